"""`canary dashboard`: every Rollout on a web page, live, with the CLI's tree, plots and verbs."""
