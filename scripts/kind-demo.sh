#!/usr/bin/env bash
# A canary rollout on a local kind cluster, for users with Docker (not run in CI; CI uses the real
# control plane of tests/controlplane).
#
# What it does:
#   1. creates a kind cluster named "canary-demo" (reused if it exists);
#   2. builds the controller image from this repository and loads it into the cluster;
#   3. installs the CRDs, RBAC and the controller (kubectl apply -k manifests/cluster-wide/, image overridden);
#   4. installs a single-node Prometheus that scrapes pods annotated prometheus.io/scrape;
#   5. deploys a demo app as a Rollout (podinfo) with an AnalysisTemplate on its error rate;
#   6. changes the image, and follows the canary with `canary status --watch`.
#
# Needs: docker, kind, kubectl, and this repository installed (`pip install -e .`).
# Usage:  scripts/kind-demo.sh          # set up and run the rollout
#         scripts/kind-demo.sh delete   # remove the cluster
set -euo pipefail

CLUSTER=canary-demo
IMAGE=canary-controller:dev
NAMESPACE=demo
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" == "delete" ]]; then
  kind delete cluster --name "$CLUSTER"
  exit 0
fi

for tool in docker kind kubectl canary; do
  command -v "$tool" >/dev/null || { echo "kind-demo: '$tool' is not installed" >&2; exit 1; }
done

echo "==> kind cluster $CLUSTER"
# The list is read whole before grep looks at it: `kind get clusters | grep -q` under pipefail fails
# when grep stops at its match while kind still writes (SIGPIPE), and would re-create the cluster.
clusters="$(kind get clusters)"
grep -qx "$CLUSTER" <<<"$clusters" || kind create cluster --name "$CLUSTER" --wait 120s
kubectl config use-context "kind-$CLUSTER" >/dev/null

echo "==> controller image"
docker build -t "$IMAGE" "$ROOT"
kind load docker-image "$IMAGE" --name "$CLUSTER"

echo "==> CRDs, RBAC, controller"
overlay="$(mktemp -d)"
trap 'rm -rf "$overlay"' EXIT
cp -r "$ROOT/manifests" "$overlay/base"
cat >"$overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [base/cluster-wide]  # the demo app lives in its own namespace
images:
  - name: ghcr.io/canary-dev/canary
    newName: ${IMAGE%%:*}
    newTag: ${IMAGE##*:}
patches:
  - target: {kind: Deployment, name: canary-controller}
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/imagePullPolicy
        value: IfNotPresent
YAML
kubectl apply -k "$overlay"
kubectl -n canary-system rollout status deployment/canary-controller --timeout=180s

echo "==> Prometheus"
kubectl create namespace monitoring --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n monitoring -f - <<'YAML'
apiVersion: v1
kind: ServiceAccount
metadata: {name: prometheus}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: demo-prometheus}
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: demo-prometheus}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: demo-prometheus}
subjects: [{kind: ServiceAccount, name: prometheus, namespace: monitoring}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: prometheus}
data:
  prometheus.yml: |
    global: {scrape_interval: 5s}
    scrape_configs:
      - job_name: pods
        kubernetes_sd_configs: [{role: pod}]
        relabel_configs:
          - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
            regex: "true"
            action: keep
          - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
            regex: '([^:]+)(?::\d+)?;(\d+)'
            replacement: '$1:$2'
            target_label: __address__
          - source_labels: [__meta_kubernetes_pod_label_rollouts_pod_template_hash]
            target_label: revision
          - source_labels: [__meta_kubernetes_pod_label_app]
            target_label: app
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: prometheus}
spec:
  selector: {matchLabels: {app: prometheus}}
  template:
    metadata: {labels: {app: prometheus}}
    spec:
      serviceAccountName: prometheus
      containers:
        - name: prometheus
          image: prom/prometheus:v2.53.0
          args: [--config.file=/etc/prometheus/prometheus.yml]
          ports: [{containerPort: 9090}]
          volumeMounts: [{name: config, mountPath: /etc/prometheus}]
      volumes: [{name: config, configMap: {name: prometheus}}]
---
apiVersion: v1
kind: Service
metadata: {name: prometheus}
spec:
  selector: {app: prometheus}
  ports: [{port: 9090}]
YAML
kubectl -n monitoring rollout status deployment/prometheus --timeout=180s

echo "==> demo app"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
demo_rollout() {
  local image="$1"
  kubectl apply -n "$NAMESPACE" -f - <<YAML
apiVersion: canary.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-rate}
spec:
  args: [{name: revision}]
  metrics:
    - name: error-rate
      interval: 15s
      count: 4
      failureLimit: 1
      successCondition: "result <= 0.05"
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          onEmptyResult: inconclusive
          query: |
            sum(rate(http_requests_total{app="podinfo",revision="{{args.revision}}",status=~"5.."}[1m]))
            / sum(rate(http_requests_total{app="podinfo",revision="{{args.revision}}"}[1m]))
---
apiVersion: v1
kind: Service
metadata: {name: podinfo-stable}
spec:
  selector: {app: podinfo}
  ports: [{port: 9898}]
---
apiVersion: v1
kind: Service
metadata: {name: podinfo-canary}
spec:
  selector: {app: podinfo}
  ports: [{port: 9898}]
---
apiVersion: canary.dev/v1alpha1
kind: Rollout
metadata: {name: podinfo}
spec:
  replicas: 5
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata:
      labels: {app: podinfo}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9898"}
    spec:
      containers:
        - name: podinfo
          image: $image
          ports: [{containerPort: 9898}]
  strategy:
    canary:
      canaryService: podinfo-canary
      stableService: podinfo-stable
      steps:
        - setWeight: 20
        - pause: {duration: 30s}
        - analysis:
            templates: [{templateName: error-rate}]
            args:
              - name: revision
                valueFrom: {podTemplateHashValue: Latest}
        - setWeight: 60
        - pause: {duration: 30s}
YAML
}
demo_rollout ghcr.io/stefanprodan/podinfo:6.5.0
canary status podinfo -n "$NAMESPACE" --timeout 300s

echo "==> new revision: the canary starts"
demo_rollout ghcr.io/stefanprodan/podinfo:6.5.1
canary get rollout podinfo -n "$NAMESPACE"
canary status podinfo -n "$NAMESPACE" --timeout 600s
echo "kind-demo: done. Try: canary get rollout podinfo -n $NAMESPACE --watch; scripts/kind-demo.sh delete"
