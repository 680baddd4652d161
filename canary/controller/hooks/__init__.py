"""The hook runner: makes the webhook calls the engine asks for (`canary.engine.hooks`) off the
reconcile path, by HTTP (`http`) or as Kubernetes Jobs (`jobs`, the load generator among them)."""
