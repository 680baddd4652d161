-- Argo CD health check for canary.dev/Rollout.
-- Install under resource.customizations.health.canary.dev_Rollout in argocd-cm.
-- Progressing until the controller has observed the current generation; then the phase the
-- controller reports: Paused -> Suspended, Degraded/Healthy/Progressing passed through with the message.
-- The same for both strategies: a canary paused at a step (CanaryPauseStep) and a blue-green rollout
-- waiting for promote before the Service switch (BlueGreenPause) are Suspended; a blue-green rollout
-- whose post-promotion analysis failed (the active Service switched back) is Degraded.
local hs = {}
local status = obj.status

if status == nil or status.observedGeneration == nil
    or obj.metadata.generation == nil or status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the rollout spec update to be observed"
  return hs
end

local message = status.message or ""
if status.phase == "Paused" then
  hs.status = "Suspended"
  hs.message = message ~= "" and message or "Rollout is paused"
elseif status.phase == "Degraded" or status.phase == "Healthy" or status.phase == "Progressing" then
  hs.status = status.phase
  hs.message = message
else
  hs.status = "Progressing"
  hs.message = message ~= "" and message or "Waiting for the rollout to report a phase"
end
return hs
