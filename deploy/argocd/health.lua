-- Argo CD health check for azbatch.dev/BatchPool (resource.customizations.health.azbatch.dev_BatchPool).
-- Reads the kstatus-style status the operator writes: status.observedGeneration and the conditions
-- Ready, Reconciling, Stalled, NodesHealthy and ExtensionsHealthy.
--   Suspended   spec.policy.reconcile is Observe: the operator only reports, it changes nothing.
--   Progressing the operator has not seen this generation yet, or Reconciling is True, or Ready is not.
--   Degraded    Stalled is True (nothing more happens without you), or NodesHealthy or
--               ExtensionsHealthy is False (nodes fail their start task, are unusable, or an
--               extension fails on them), whatever Ready and Reconciling say.
--   Healthy     Ready is True for the current generation.
local hs = {}

local function find_condition(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

local function is_true(condition)
  return condition ~= nil and condition.status == "True"
end

local function describe(condition, fallback)
  if condition == nil then
    return fallback
  end
  local text = condition.reason or fallback
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

local policy = obj.spec ~= nil and obj.spec.policy or nil
if policy ~= nil and policy.reconcile == "Observe" then
  hs.status = "Suspended"
  hs.message = "spec.policy.reconcile is Observe: the operator reports the pool and changes nothing"
  return hs
end

local status = obj.status
local generation = obj.metadata ~= nil and obj.metadata.generation or nil
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe this BatchPool"
  return hs
end
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local conditions = status.conditions
local stalled = find_condition(conditions, "Stalled")
if is_true(stalled) then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

local failing = {}
for _, kind in ipairs({ "NodesHealthy", "ExtensionsHealthy" }) do
  local health = find_condition(conditions, kind)
  if health ~= nil and health.status == "False" then
    table.insert(failing, kind .. " is False: " .. describe(health, kind))
  end
end
if #failing > 0 then
  hs.status = "Degraded"
  hs.message = table.concat(failing, "; ")
  return hs
end

local reconciling = find_condition(conditions, "Reconciling")
if is_true(reconciling) then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "Reconciling")
  return hs
end

local ready = find_condition(conditions, "Ready")
if not is_true(ready) then
  hs.status = "Progressing"
  hs.message = describe(ready, "Waiting for the pool to be ready")
  return hs
end

hs.status = "Healthy"
hs.message = describe(ready, "Ready")
return hs
