// crds.mjs FILE... -- validate the custom resources platc writes against the
// schemas their operators publish (the @kubernetes-models packages are
// generated from the operators' CRDs): ExternalSecret (External Secrets
// Operator) and ServiceMonitor / PodMonitor (Prometheus Operator). The
// shared oracles' kubernetes-validate knows only Kubernetes' own kinds; see
// .ci/validate. Prints one line per problem; exits 1 if any, 2 when a file
// holds a kind this script does not know (so nothing passes unchecked).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = join(process.env.PLATC_CI_NODE, 'node_modules');
const load = (p) => import(pathToFileURL(join(modules, p)).href);
const YAML = (await load('yaml/dist/index.js')).default;
const { ExternalSecret } = await load('@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret.js');
const { ServiceMonitor } = await load('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js');
const { PodMonitor } = await load('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor.js');

const models = {
  'external-secrets.io/v1 ExternalSecret': ExternalSecret,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1 PodMonitor': PodMonitor,
};

let problems = 0;
let unknown = 0;
for (const file of process.argv.slice(2)) {
  const docs = YAML.parseAllDocuments(readFileSync(file, 'utf8'));
  docs.forEach((d, i) => {
    const doc = d.toJS();
    if (doc === null) return;
    const key = `${doc.apiVersion} ${doc.kind}`;
    const Model = models[key];
    if (!Model) {
      console.log(`${file}: document ${i}: no schema here for ${key}`);
      unknown++;
      return;
    }
    try {
      new Model(doc).validate();
    } catch (err) {
      console.log(`${file}: document ${i} (${key}): ${String(err.message).split('\n')[0]}`);
      problems++;
    }
  });
}
process.exit(unknown ? 2 : problems ? 1 : 0);
