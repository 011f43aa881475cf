// Alerts on the app's own telemetry (names from src/telemetry/telemetry.ts) and the host's, each a log
// search rule on Application Insights that notifies one action group (email and/or a webhook):
//   poison          messages in the poison queue (the app's count, the queue's depth, and the host's own
//                   "moving message to poison" line — host-moved messages expire after 7 days: this is
//                   what saves them);
//   backlog         the oldest message waiting longer than backlogMinutes (Storage has no per-queue metric:
//                   the app measures it every five minutes);
//   undeliverable   a target failed for good, or ran out of delivery time;
//   arm-forbidden   ARM answered 401/403 to a result read (a role assignment drifted);
//   arm-throttled   more than 5 % of ARM reads answered 429 in three 5-minute spans of the last 30 minutes
//                   (another tool shares the subscription's reads, or ARM_READS_PER_SECOND is set too high);
//   function-failures  invocations that failed (the host retries them; the poison alert follows if it lasts).
param namePrefix string
param location string
param tags object
param appInsightsId string
@description('Email addresses to notify.')
param emails array
@secure()
@description('A webhook to notify (e.g. a chat or an incident tool); empty for none.')
param webhookUrl string
@description('Whether webhookUrl is given (a plain boolean, so that no condition depends on the secret).')
param hasWebhook bool
@minValue(5)
@maxValue(1440)
param backlogMinutes int

resource group 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-alerts'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take(replace(namePrefix, '-', ''), 12)
    enabled: true
    emailReceivers: [for (e, i) in emails: { name: 'email-${i}', emailAddress: e, useCommonAlertSchema: true }]
    webhookReceivers: hasWebhook ? [{ name: 'webhook', serviceUri: webhookUrl, useCommonAlertSchema: true }] : []
  }
}

var rules = [
  {
    name: 'poison'
    severity: 1
    description: 'Messages are in the poison queue. Read their reasons (aks-command-notifier status), fix the cause, then redrive: the host\'s own poison messages expire after 7 days.'
    query: 'let moved = customMetrics | where name == "aksnotifier.poisoned" | summarize n = sum(valueSum); let waiting = customMetrics | where name == "aksnotifier.queue.messages" and tostring(customDimensions.queue) == "poison" | summarize n = max(value); let host = traces | where message has "MaxDequeueCount" and message has "poison" | summarize n = todouble(count()); union moved, waiting, host | summarize total = sum(n) | where total > 0'
    window: 'PT15M'
  }
  {
    name: 'backlog'
    severity: 2
    description: 'The oldest command message has waited longer than ${backlogMinutes} minutes: the app is not keeping up, or not running.'
    query: 'customMetrics | where name == "aksnotifier.queue.oldest_age" and tostring(customDimensions.queue) == "main" | summarize age = max(value) | where age > ${backlogMinutes * 60}'
    window: 'PT15M'
  }
  {
    name: 'undeliverable'
    severity: 2
    description: 'A notification could not be delivered: a target failed for good (wrong URL, archived channel, missing scope) or ran out of delivery time. Fix the target, then redeliver.'
    query: 'customMetrics | where (name == "aksnotifier.deliveries" and tostring(customDimensions.status) == "failed") or (name == "aksnotifier.poisoned" and tostring(customDimensions.reason) == "delivery-deadline") | summarize n = sum(valueSum) by target = tostring(customDimensions.target) | where n > 0'
    window: 'PT15M'
  }
  {
    name: 'arm-forbidden'
    severity: 2
    description: 'ARM refused to let the app read command results (401/403): check the custom role assignment on the clusters (Microsoft.ContainerService/managedClusters/commandResults/read).'
    query: 'customMetrics | where name == "aksnotifier.polls" and tostring(customDimensions.answer) == "401/403" | summarize n = sum(valueSum) | where n > 0'
    window: 'PT15M'
  }
  {
    name: 'arm-throttled'
    severity: 2
    description: 'ARM throttled more than 5 % of the app\'s result reads (429) for 15 minutes or more. The app waits each out, so results come late: lower ARM_READS_PER_SECOND, or find the other tool spending the subscription\'s reads (docs/operations.md, ARM throttling).'
    query: 'customMetrics | where name == "aksnotifier.polls" | summarize throttled = sumif(valueSum, tostring(customDimensions.answer) == "429"), reads = sum(valueSum) by bin(timestamp, 5m) | where throttled > 10 and throttled > 0.05 * reads | summarize spans = count() | where spans >= 3'
    window: 'PT30M'
  }
  {
    name: 'function-failures'
    severity: 3
    description: 'Function invocations failed (the host retries them; they end in the poison queue if they keep failing).'
    query: 'requests | where success == false | summarize n = count() by operation_Name | where n > 0'
    window: 'PT15M'
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = [
  for r in rules: {
    name: '${namePrefix}-${r.name}'
    location: location
    tags: tags
    properties: {
      displayName: '${namePrefix}: ${r.name}'
      description: r.description
      severity: r.severity
      enabled: true
      scopes: [appInsightsId]
      evaluationFrequency: 'PT5M'
      windowSize: r.window
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: r.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: { actionGroups: [group.id] }
    }
  }
]

output actionGroupId string = group.id
output ruleNames array = [for (r, i) in rules: alerts[i].name]
