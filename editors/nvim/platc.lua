-- platc's language server in Neovim (0.10 or later), with no plugin.
-- Put this file in ~/.config/nvim/plugin/ (or paste it into init.lua); `platc`
-- must be on PATH. Diagnostics as you type, hover (K), completion (<C-x><C-o>),
-- go to definition (gd / CTRL-]), formatting (gq or vim.lsp.buf.format()),
-- outline and quick fixes (vim.lsp.buf.code_action()).

vim.filetype.add({ extension = { plat = "plat" } })

vim.api.nvim_create_autocmd("FileType", {
  pattern = "plat",
  callback = function(args)
    vim.bo[args.buf].commentstring = "# %s"
    vim.lsp.start({
      name = "platc",
      cmd = { "platc", "lsp" },
      -- The workspace is the nearest directory holding platform.plat (as
      -- `platc build` finds it); platc finds it on its own from the file.
      root_dir = vim.fs.root(args.buf, { "platform.plat", "service.plat" }),
    })
  end,
})
