// Starts `platc lsp` for .plat files. Everything the editor shows comes from
// the server; this file only says how to run it.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("platc").get("path") || "platc";
  const run = { command, args: ["lsp"], transport: TransportKind.stdio };
  client = new LanguageClient(
    "platc",
    "platc",
    { run, debug: run },
    {
      documentSelector: [{ scheme: "file", language: "plat" }],
      // Files changed outside the editor (git checkout, another tool) are
      // read again by the server.
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{plat,hbs}") },
    }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
