// Evaluates IAM requests with @cloud-copilot/iam-simulate (the real policy language:
// every condition operator, resource policies, actions and resource types checked
// against the service reference), in one process for a whole batch.
//
// stdin: a JSON array of requests, each
//   {"principal": "arn:aws:iam::123456789012:role/r", "action": "lambda:GetAlias",
//    "resource": "arn:aws:lambda:...:function:f:live", "account": "123456789012",
//    "context": {"dynamodb:LeadingKeys": ["LOCK#f:live"]},
//    "identityPolicies": [{"name": "RolePolicy0", "policy": {...}}],
//    "resourcePolicy": {...}}            (optional)
// stdout: a JSON array of results, in the same order, each
//   {"decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error",
//    "errors": "...", "resourceType": "...", "ignoredContextKeys": [...],
//    "allowedBy": [{"policy", "sid", "index"}], "deniedBy": [...],
//    "unmatched": [{"policy", "sid", "index", "action", "resource", "condition"}]}
import { runSimulation } from '@cloud-copilot/iam-simulate'

function statementId(analysis) {
  return {
    policy: analysis.policyId,
    sid: analysis.statement.sid() ?? null,
    index: analysis.statement.index(),
  }
}

function summarize(response) {
  if (response.resultType === 'error') {
    return { decision: 'Error', errors: JSON.stringify(response.errors) }
  }
  const result = response.resultType === 'single' ? response.result : response.results[0]
  if (result === undefined) {
    return { decision: response.overallResult, errors: 'no resource pattern was simulated' }
  }
  const identity = result.analysis.identityAnalysis ?? {
    allowStatements: [],
    denyStatements: [],
    unmatchedStatements: [],
  }
  return {
    decision: response.overallResult,
    resourceType: result.resourceType ?? null,
    ignoredContextKeys: result.ignoredContextKeys ?? [],
    allowedBy: identity.allowStatements.map(statementId),
    deniedBy: identity.denyStatements.map(statementId),
    resourcePolicy: result.analysis.resourceAnalysis?.result ?? null,
    // Why the statements that name the action did not apply.
    unmatched: identity.unmatchedStatements
      .filter((s) => s.actionMatch)
      .map((s) => ({
        ...statementId(s),
        action: s.actionMatch,
        resource: s.resourceMatch,
        condition: s.conditionMatch,
      })),
  }
}

async function evaluate(request) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: request.context ?? {},
    },
    identityPolicies: request.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  }
  if (request.resourcePolicy) {
    simulation.resourcePolicy = request.resourcePolicy
  }
  try {
    return summarize(await runSimulation(simulation, {}))
  } catch (error) {
    return { decision: 'Error', errors: String(error?.stack ?? error) }
  }
}

const chunks = []
for await (const chunk of process.stdin) {
  chunks.push(chunk)
}
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const results = []
for (const request of requests) {
  results.push(await evaluate(request))
}
process.stdout.write(JSON.stringify(results))
