"""Rollback written back to Git: on an abort, the stable revision is committed to the file the GitOps
tool syncs from, so Git agrees with the cluster.

Pure: `target` (the opt-in annotations), `image`, `yamledit`, `plan` (the edit and the commit message).
Adapters: `git` (the git CLI), `forge` with one module per forge's REST API (`github`, `gitlab`,
`gitea`), and `writer`, which runs a plan through them.
"""
