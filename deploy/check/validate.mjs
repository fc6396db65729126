// Validates Kubernetes manifests (multi-document YAML files given as arguments) against the
// Kubernetes OpenAPI schemas (kubernetes-models), KEDA's CRD schema (@kubernetes-models/keda) and
// the fields of Strimzi's KafkaTopic that the chart uses. Prints one line per object; exits 1 on
// the first invalid file.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";

function kafkaTopic(o) {
  const errors = [];
  const spec = o.spec ?? {};
  if (o.apiVersion !== "kafka.strimzi.io/v1beta2") errors.push("apiVersion must be kafka.strimzi.io/v1beta2");
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata?.name ?? "")) errors.push("metadata.name must be a DNS-1123 name");
  if (!o.metadata?.labels?.["strimzi.io/cluster"]) errors.push("metadata.labels.strimzi.io/cluster is required");
  for (const k of ["partitions", "replicas"]) {
    if (!Number.isInteger(spec[k]) || spec[k] < 1) errors.push(`spec.${k} must be an integer >= 1`);
  }
  if (spec.config && typeof spec.config !== "object") errors.push("spec.config must be a mapping");
  const known = new Set(["topicName", "partitions", "replicas", "config"]);
  for (const k of Object.keys(spec)) if (!known.has(k)) errors.push(`spec.${k} is not a KafkaTopic field`);
  if (errors.length) throw new Error(errors.join("; "));
}

const models = {
  "v1/ConfigMap": (o) => new ConfigMap(o).validate(),
  "v1/Service": (o) => new Service(o).validate(),
  "apps/v1/Deployment": (o) => new Deployment(o).validate(),
  "keda.sh/v1alpha1/ScaledObject": (o) => new ScaledObject(o).validate(),
  "kafka.strimzi.io/v1beta2/KafkaTopic": kafkaTopic,
};

let failed = false;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  let count = 0;
  for (const doc of docs) {
    if (doc.errors.length) {
      console.log(`${file}: YAML error: ${doc.errors[0].message}`);
      failed = true;
      continue;
    }
    const o = doc.toJS();
    if (o == null) continue;
    const key = `${o.apiVersion}/${o.kind}`;
    const check = models[key];
    const name = `${file}: ${o.kind} ${o.metadata?.name}`;
    if (!check) {
      console.log(`${name}: no schema known for ${key}`);
      failed = true;
      continue;
    }
    try {
      check(o);
      console.log(`${name}: valid`);
      count++;
    } catch (e) {
      console.log(`${name}: INVALID: ${e.message}`);
      failed = true;
    }
  }
  if (count === 0) {
    console.log(`${file}: no objects`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
