// Hunter on Azure, serverless and without shared secrets:
//   * the function app on a Flex Consumption plan (FC1: scale to zero, per-execution billing, VNet
//     integration available), Python 3.11, code deployed to a blob container;
//   * one user-assigned managed identity for everything the app reaches: Storage (the Functions
//     runtime and Hunter's queues, AzureWebJobsStorage__accountName, no account keys:
//     allowSharedKeyAccess false), Key Vault (references for the few secrets left), PostgreSQL
//     Flexible Server (Microsoft Entra authentication: the app signs in as its identity with an
//     access token), Azure Managed Redis (Entra authentication, access keys off) and
//     Application Insights (local auth off: the identity publishes telemetry);
//   * Log Analytics with diagnostic settings of every resource, and Azure Monitor alerts.
// `azd up` provisions and deploys (azure.yaml at the repository root; infra/hooks runs `hunter
// migrate` and creates the app's database role). By hand:
//   az deployment group create -g hunter-prod -f infra/bicep/main.bicep -p infra/bicep/main.parameters.example.json
//
// Written for checkov's Bicep parser (pycep), which the test suite runs offline: no user-defined
// functions or types, no lambdas other than filter(), no spread, no imports.
// tests/unit/test_infra.py keeps the settings, queues, timers and runtime in step with the code.

targetScope = 'resourceGroup'

@description('Short name used in every resource name (lowercase letters and digits).')
@minLength(3)
@maxLength(11)
param prefix string = 'hunter'

param location string = resourceGroup().location

// ---- Function app (Flex Consumption) -----------------------------------------------------------

@description('Memory of one instance (MB): 512, 2048 or 4096. The scan pipeline holds 256 domains in flight per process.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to (bounds cost and the connections PostgreSQL sees: 15 per instance).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Always-ready instances for the HTTP functions (0 = scale to zero; 1 removes cold starts of the API at the price of one idle instance).')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int = 0

@description('Spread the Flex Consumption instances over availability zones (where the region offers it).')
param planZoneRedundant bool = false

@description('Public network access of the function app; Disabled needs a private endpoint and VNet integration (not created here).')
@allowed([
  'Enabled'
  'Disabled'
])
param functionPublicNetworkAccess string = 'Enabled'

@description('Browser origins allowed to call the API (comma list).')
param corsOrigins string = ''

// ---- Storage, Key Vault ------------------------------------------------------------------------

@description('Public network access of the Storage account and Key Vault. The Flex plan reaches them over the public endpoint unless the app is VNet-integrated with private endpoints.')
@allowed([
  'Enabled'
  'Disabled'
])
param dataPublicNetworkAccess string = 'Enabled'

@description('Storage redundancy: geo-zone-redundant by default (code packages, runtime state and queue messages survive a zone and a region); Standard_ZRS where GZRS is not offered.')
@allowed([
  'Standard_GZRS'
  'Standard_RAGZRS'
  'Standard_GRS'
  'Standard_ZRS'
])
param storageSku string = 'Standard_GZRS'

// ---- PostgreSQL --------------------------------------------------------------------------------

@description('Object id of the Microsoft Entra administrator of PostgreSQL: the person or group who deploys (azd passes the signed-in user). Runs `hunter migrate` and creates the app role; the app itself is not an administrator.')
param postgresEntraAdminObjectId string

@description('Name of that administrator as PostgreSQL sees it: the user principal name, or the group name.')
param postgresEntraAdminName string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param postgresEntraAdminType string = 'User'

@description('Also allow password logins (a break-glass administrator). Off by default: Entra only.')
param postgresPasswordAuth bool = false

@description('Administrator login when postgresPasswordAuth is true.')
param postgresAdminLogin string = 'hunteradmin'

@secure()
@description('Administrator password when postgresPasswordAuth is true (never stored in the app).')
param postgresAdminPassword string = ''

@description('PostgreSQL compute (Burstable B1ms is enough for one team; General Purpose for bulk scans of millions).')
param postgresSkuName string = 'Standard_B1ms'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

@description('Days of point-in-time backups (7-35).')
@minValue(7)
@maxValue(35)
param postgresBackupRetentionDays int = 14

@description('Geo-redundant backups (copied to the paired region; cannot be changed after the server is created).')
@allowed([
  'Enabled'
  'Disabled'
])
param postgresGeoRedundantBackup string = 'Enabled'

@description('Public network access of PostgreSQL. Enabled with the "Azure services" firewall rule is what a Flex app without VNet integration needs.')
@allowed([
  'Enabled'
  'Disabled'
])
param postgresPublicNetworkAccess string = 'Enabled'

// ---- Redis -------------------------------------------------------------------------------------

@description('Azure Managed Redis SKU (Balanced_B0 is the smallest; every SKU supports Microsoft Entra authentication).')
param redisSkuName string = 'Balanced_B0'

@allowed([
  'Enabled'
  'Disabled'
])
param redisPublicNetworkAccess string = 'Enabled'

// ---- Secrets (Key Vault) and integrations ------------------------------------------------------

@secure()
@description('Fernet key(s) that encrypt the stored MSAL token cache (python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"). Needed for Partner Center and Dynamics 365 sign-in.')
param tokenCacheKey string = ''

@description('Turn on the Dynamics 365 lead push.')
param d365Enabled bool = false
@description('Dataverse organisation URL, e.g. https://contoso.crm4.dynamics.com')
param d365Url string = ''
param d365TenantId string = ''
param d365ClientId string = ''
@secure()
param d365ClientSecret string = ''

@description('Turn on the Partner Center referral sync (sign in once with `hunter pc login`).')
param partnerCenterEnabled bool = false
param pcTenantId string = ''
param pcClientId string = ''

@description('NCRONTAB schedule of the referral sync (six fields).')
param pcSyncSchedule string = '0 */10 * * * *'

@description('NCRONTAB schedule of the rescan timer (UTC): nightly at 02:00 by default.')
param rescanSchedule string = '0 0 2 * * *'

@description('Most leads one rescan timer run submits.')
@minValue(1)
@maxValue(100000)
param rescanBudget int = 5000

@description('NCRONTAB schedule of the e-mail digest timer (UTC).')
param digestSchedule string = '0 0 7 * * *'

@description('SMTP relay for alert e-mails (e.g. smtp.office365.com or smtp.azurecomm.net); empty = no e-mail.')
param smtpHost string = ''
param smtpUsername string = ''
@secure()
param smtpPassword string = ''
@description('Sender address of alert e-mails.')
param smtpFrom string = ''

// ---- Monitoring --------------------------------------------------------------------------------

@description('Resource id of an existing action group the alerts notify; empty = create one for alertEmail (or none).')
param actionGroupId string = ''

@description('E-mail address of an action group created here when actionGroupId is empty; empty = alerts without notification.')
param alertEmail string = ''

@description('5xx responses, in percent of all requests over 15 minutes, above which the 5xx alert fires.')
@minValue(1)
@maxValue(100)
param alert5xxPercent int = 5

@description('p95 latency (ms) of the leads API (GET /api/v1/leads) over 15 minutes above which the latency alert fires.')
@minValue(10)
param alertLeadsP95Ms int = 1000

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

var suffix = uniqueString(resourceGroup().id)
var names = {
  identity: '${prefix}-id-${suffix}'
  storage: '${prefix}st${take(suffix, 11)}' // at most 24 characters: 11 + 2 + 11
  plan: '${prefix}-plan-${suffix}'
  app: '${prefix}-func-${suffix}'
  insights: '${prefix}-ai-${suffix}'
  workspace: '${prefix}-log-${suffix}'
  vault: '${prefix}-kv-${take(suffix, 8)}'
  postgres: '${prefix}-pg-${suffix}'
  redis: '${prefix}-redis-${suffix}'
  actionGroup: '${prefix}-ops-${suffix}'
}
var deploymentContainer = 'app-package'
var databaseName = 'hunter'

// Queue names come from shared/triggers/registry.py (QUEUE_FUNCTIONS) and shared/queues
// (poison_name); a test keeps them in step.
var queues = [
  'scan-requests'
  'scan-requests-poison'
  'd365-push'
  'd365-push-poison'
  'notifications'
  'notifications-poison'
]

// Built-in role definitions.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// ---- Identity ----------------------------------------------------------------------------------

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
}

// ---- Monitoring --------------------------------------------------------------------------------

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: names.workspace
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.insights
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true // telemetry only with an Entra token: the app's identity (Monitoring Metrics Publisher)
  }
}

resource insightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// ---- Storage -----------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_43: the name is an expression checkov cannot evaluate: prefix (3-11 characters, lowercase letters and digits) + 'st' + 11 of uniqueString's lowercase characters, so 24 at most
  //checkov:skip=CKV_AZURE_35: the Flex Consumption app without VNet integration reaches Storage over its public endpoint, from addresses no firewall rule can list; identity-only access (allowSharedKeyAccess false) is the control, and dataPublicNetworkAccess=Disabled with private endpoints closes it
  //checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35; public network access is the dataPublicNetworkAccess parameter
  name: names.storage
  location: location
  sku: {
    name: storageSku
  }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // identity only: no account key works, so none can leak
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: dataPublicNetworkAccess
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Flex Consumption runs the package it finds in this container (the identity reads it).
resource deploymentContainerResource 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queueResources 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queue in queues: {
  parent: queueService
  name: queue
}]

// The Functions runtime keeps leases and timer state in blobs, diagnostics events in tables,
// and the queue triggers and Hunter's own sends use the queues: data roles, no keys.
resource storageBlobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

resource storageQueueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

resource storageTableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource storageQueueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource storageBlobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

// ---- PostgreSQL (Microsoft Entra authentication) -----------------------------------------------

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: names.postgres
  location: location
  sku: {
    name: postgresSkuName
    tier: postgresSkuTier
  }
  properties: {
    version: '16'
    administratorLogin: postgresPasswordAuth ? postgresAdminLogin : null
    administratorLoginPassword: postgresPasswordAuth ? postgresAdminPassword : null
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: postgresPasswordAuth ? 'Enabled' : 'Disabled'
      tenantId: subscription().tenantId
    }
    storage: {
      storageSizeGB: 32
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: postgresBackupRetentionDays
      geoRedundantBackup: postgresGeoRedundantBackup
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: postgresPublicNetworkAccess
    }
  }
}

// The deployer (or a group) administers the server through Entra; the app gets its own
// least-privilege role from `hunter migrate --create-app-role` (infra/hooks), never this one.
resource postgresEntraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: postgres
  name: postgresEntraAdminObjectId
  properties: {
    principalName: postgresEntraAdminName
    principalType: postgresEntraAdminType
    tenantId: subscription().tenantId
  }
}

// Flexible Server takes one change at a time: the children below are chained with dependsOn.
resource postgresDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    postgresEntraAdmin
  ]
}

// Hunter's search index uses pg_trgm (migration 0003): it must be allow-listed on Flexible Server.
resource postgresExtensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: postgres
  name: 'azure.extensions'
  properties: {
    value: 'PG_TRGM'
    source: 'user-override'
  }
  dependsOn: [
    postgresDatabase
  ]
}

resource postgresLogConnections 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: postgres
  name: 'log_connections'
  properties: {
    value: 'on'
    source: 'user-override'
  }
  dependsOn: [
    postgresExtensions
  ]
}

// A Flex Consumption app without VNet integration connects from Azure's shared outbound addresses:
// this rule admits Azure services only (Entra tokens still decide who gets in).
resource postgresAllowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (postgresPublicNetworkAccess == 'Enabled') {
  parent: postgres
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    postgresLogConnections
  ]
}

resource postgresDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: postgres
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'PostgreSQLLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// ---- Azure Managed Redis (Microsoft Entra authentication) --------------------------------------

resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: names.redis
  location: location
  sku: {
    name: redisSkuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: redisPublicNetworkAccess
  }
}

resource redisDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: redis
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'EnterpriseCluster' // one endpoint: Hunter's client is not cluster-aware
    evictionPolicy: 'VolatileLRU'
    accessKeysAuthentication: 'Disabled' // Entra tokens only
  }
}

resource redisAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: redisDatabase
  name: 'hunterapp'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: identity.properties.principalId
    }
  }
}

// ---- Key Vault (the secrets that remain) -------------------------------------------------------

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109: Key Vault references are resolved by App Service from shared outbound addresses unless the app is VNet-integrated; RBAC (Key Vault Secrets User for the app identity only) is the control, and dataPublicNetworkAccess=Disabled with a private endpoint closes the network path
  //checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109; public network access is the dataPublicNetworkAccess parameter
  name: names.vault
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: dataPublicNetworkAccess
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

resource tokenCacheKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(tokenCacheKey)) {
  //checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional resource (if (...)), and the secret exists only when its parameter is given
  //checkov:skip=CKV_AZURE_41: the token-cache key must not expire on its own (an expired secret stops every sign-in); rotate it by adding a new key in front (HUNTER_TOKEN_CACHE_KEY takes several)
  parent: vault
  name: 'token-cache-key'
  properties: {
    value: tokenCacheKey
    contentType: 'Fernet key(s), comma-separated'
  }
}

resource d365SecretResource 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(d365ClientSecret)) {
  //checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional resource (if (...)), and the secret exists only when its parameter is given
  //checkov:skip=CKV_AZURE_41: the expiry is the app registration's (Entra sets it); a second, shorter expiry here would break the push silently
  parent: vault
  name: 'd365-client-secret'
  properties: {
    value: d365ClientSecret
    contentType: 'Dataverse application client secret'
  }
}

resource smtpSecretResource 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  //checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional resource (if (...)), and the secret exists only when its parameter is given
  //checkov:skip=CKV_AZURE_41: the relay's password lifetime is the mail provider's; an expiry here would stop alert e-mails silently
  parent: vault
  name: 'smtp-password'
  properties: {
    value: smtpPassword
    contentType: 'SMTP relay password'
  }
}

resource vaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

// ---- Function app --------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225: zone redundancy is the planZoneRedundant parameter (off by default: not every region offers it for Flex Consumption)
  name: names.plan
  location: location
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
    zoneRedundant: planZoneRedundant
  }
}

var kvPrefix = '@Microsoft.KeyVault(VaultName=${names.vault};SecretName='

resource app 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_222: public network access is the functionPublicNetworkAccess parameter: the API is public by design (Hunter's own API keys guard it) unless the deployer adds a private endpoint
  //checkov:skip=CKV_AZURE_212: Flex Consumption has no fixed instance count: it scales per function up to maximumInstanceCount, alwaysReadyHttpInstances keeps warm ones
  //checkov:skip=CKV_AZURE_213: the Flex Consumption plan does not support the platform health check; /api/healthz/ready is there for any other prober
  //checkov:skip=CKV_AZURE_17: client certificates are not how Hunter's callers (browsers, Power Automate, scripts) authenticate; API keys are
  name: names.app
  location: location
  kind: 'functionapp,linux'
  tags: {
    'azd-service-name': 'api' // azd deploys the service "api" of azure.yaml here
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: functionPublicNetworkAccess
    keyVaultReferenceIdentity: identity.id
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReadyHttpInstances > 0 ? [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      cors: {
        allowedOrigins: empty(corsOrigins) ? [] : split(corsOrigins, ',')
      }
      // Flex Consumption sets the runtime in functionAppConfig: FUNCTIONS_WORKER_RUNTIME and
      // FUNCTIONS_EXTENSION_VERSION are not allowed here, nor any content-share setting.
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId } // azure-identity's DefaultAzureCredential picks the user-assigned identity
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
        { name: 'PYTHON_ENABLE_OPENTELEMETRY', value: 'true' } // with host.json telemetryMode OpenTelemetry: the host's and Hunter's spans are one trace
        { name: 'OTEL_SERVICE_NAME', value: 'hunter' }
        { name: 'HUNTER_DATABASE_URL', value: 'postgresql+pg8000://${identity.name}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=require' }
        { name: 'HUNTER_DATABASE_AUTH', value: 'entra' } // the password of every new connection is an Entra access token of the identity
        { name: 'HUNTER_AUTO_MIGRATE', value: 'false' } // the deploy migrates (hunter migrate in infra/hooks), never a request
        { name: 'HUNTER_QUEUE_BACKEND', value: 'azure' } // Storage queues through AzureWebJobsStorage__accountName and the identity
        { name: 'HUNTER_REDIS_URL', value: 'rediss://${identity.properties.principalId}@${redis.properties.hostName}:10000/0' }
        { name: 'HUNTER_REDIS_AUTH', value: 'entra' } // user = the identity's object id, password = an Entra access token
        { name: 'HUNTER_TOKEN_CACHE_KEY', value: empty(tokenCacheKey) ? '' : '${kvPrefix}token-cache-key)' }
        { name: 'HUNTER_LOG_LEVEL', value: 'INFO' }
        { name: 'HUNTER_CORS_ORIGINS', value: corsOrigins }
        { name: 'HUNTER_PUBLIC_URL', value: 'https://${names.app}.azurewebsites.net/api/ui/' }
        { name: 'HUNTER_D365_ENABLED', value: string(d365Enabled) }
        { name: 'HUNTER_D365_URL', value: d365Url }
        { name: 'HUNTER_D365_TENANT_ID', value: d365TenantId }
        { name: 'HUNTER_D365_CLIENT_ID', value: d365ClientId }
        { name: 'HUNTER_D365_CLIENT_SECRET', value: empty(d365ClientSecret) ? '' : '${kvPrefix}d365-client-secret)' }
        { name: 'HUNTER_PARTNER_CENTER_ENABLED', value: string(partnerCenterEnabled) }
        { name: 'HUNTER_PC_TENANT_ID', value: pcTenantId }
        { name: 'HUNTER_PC_CLIENT_ID', value: pcClientId }
        { name: 'HUNTER_PC_SYNC_SCHEDULE', value: pcSyncSchedule }
        { name: 'HUNTER_RESCAN_SCHEDULE', value: rescanSchedule }
        { name: 'HUNTER_RESCAN_BUDGET', value: string(rescanBudget) }
        { name: 'HUNTER_DIGEST_SCHEDULE', value: digestSchedule }
        { name: 'HUNTER_SMTP_HOST', value: smtpHost }
        { name: 'HUNTER_SMTP_USERNAME', value: smtpUsername }
        { name: 'HUNTER_SMTP_PASSWORD', value: empty(smtpPassword) ? '' : '${kvPrefix}smtp-password)' }
        { name: 'HUNTER_SMTP_FROM', value: smtpFrom }
      ]
    }
  }
  dependsOn: [
    storageBlobRole
    storageQueueRole
    storageTableRole
    vaultSecretsUser
    insightsPublisher
    deploymentContainerResource
    queueResources
  ]
}

// Publishing with a user name and password (FTP, and the SCM site's basic auth) off: azd and
// `func publish` deploy with Entra tokens.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource appDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: app
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// ---- Alerts (Azure Monitor) -------------------------------------------------------------------

resource opsGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (empty(actionGroupId) && !empty(alertEmail)) {
  name: names.actionGroup
  location: 'global'
  properties: {
    groupShortName: 'hunterops'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var alertGroups = !empty(actionGroupId) ? [
  actionGroupId
] : (empty(alertEmail) ? [] : [
  resourceId('Microsoft.Insights/actionGroups', names.actionGroup)
])

// Storage's queue metrics have no per-queue dimension, so "a poison queue is not empty" is watched
// where a message lands on one: Hunter's "message poisoned" / "queue message failed permanently"
// log lines (shared/hosts/queue_runner.py) and the Functions host's own move after maxDequeueCount;
// and the length itself, the OpenTelemetry gauge hunter.queue.poison_messages, whenever something
// reads the queues (/api/healthz/metrics, shared/metrics.py). One alert per queue (dimension).
resource poisonAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${prefix}-poison-queue-${suffix}'
  location: location
  properties: {
    displayName: 'Hunter: a message reached a poison queue'
    description: 'A queue message failed for good and waits on <queue>-poison for an operator (hunter queue peek / redrive).'
    severity: 2
    enabled: true
    skipQueryValidation: true // the App* tables appear with the first telemetry, after this deployment
    scopes: [
      workspace.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: '''
let moved = AppTraces
| where Message contains "message poisoned" or Message contains "queue message failed permanently" or (Message contains "Moving message to queue" and Message contains "-poison")
| extend queue = coalesce(tostring(Properties.queue), extract("Moving message to queue '([a-z0-9-]+)-poison'", 1, Message), "unknown")
| summarize poisoned = todouble(count()) by queue;
let waiting = AppMetrics
| where Name == "hunter.queue.poison_messages"
| summarize poisoned = todouble(max(Max)) by queue = tostring(Properties["messaging.destination.name"]);
union moved, waiting
| summarize poisoned = max(poisoned) by queue
'''
          timeAggregation: 'Total'
          metricMeasureColumn: 'poisoned'
          dimensions: [
            {
              name: 'queue'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: alertGroups
    }
  }
  dependsOn: [
    opsGroup
  ]
}

resource http5xxAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${prefix}-http-5xx-${suffix}'
  location: location
  properties: {
    displayName: 'Hunter: 5xx rate'
    description: 'More than alert5xxPercent percent of API requests answered 5xx over 15 minutes (at least 20 requests).'
    severity: 1
    enabled: true
    skipQueryValidation: true // the App* tables appear with the first telemetry, after this deployment
    scopes: [
      workspace.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: '''
AppRequests
| summarize total = count(), failed = countif(toint(ResultCode) >= 500)
| where total >= 20
| extend percent5xx = 100.0 * failed / total
'''
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'percent5xx'
          operator: 'GreaterThan'
          threshold: alert5xxPercent
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertGroups
    }
  }
  dependsOn: [
    opsGroup
  ]
}

resource d365FailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${prefix}-d365-push-failed-${suffix}'
  location: location
  properties: {
    displayName: 'Hunter: Dynamics 365 pushes failing'
    description: 'A lead push to Dataverse failed (retried, or failed for good): see hunter d365 status and the d365-push queue.'
    severity: 2
    enabled: d365Enabled
    skipQueryValidation: true
    scopes: [
      workspace.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: '''
AppTraces
| where (Message contains "queue message failed" and (tostring(Properties.queue) == "d365-push" or Message contains "d365-push")) or Message contains "d365.push_failed"
| summarize failures = count()
'''
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertGroups
    }
  }
  dependsOn: [
    opsGroup
  ]
}

resource pcSignInAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${prefix}-pc-sign-in-${suffix}'
  location: location
  properties: {
    displayName: 'Hunter: Partner Center sync needs sign-in'
    description: 'The referral sync stopped until someone signs in again: run hunter pc login.'
    severity: 2
    enabled: partnerCenterEnabled
    skipQueryValidation: true
    scopes: [
      workspace.id
    ]
    evaluationFrequency: 'PT30M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: '''
AppTraces
| where Message contains "sync timer idle: sign-in needed" or Message contains "partner center sync: sign-in failed"
| summarize signInNeeded = count()
'''
          timeAggregation: 'Total'
          metricMeasureColumn: 'signInNeeded'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertGroups
    }
  }
  dependsOn: [
    opsGroup
  ]
}

resource leadsLatencyAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${prefix}-leads-p95-${suffix}'
  location: location
  properties: {
    displayName: 'Hunter: leads API p95 latency'
    description: 'p95 of GET /api/v1/leads (function list_leads) above alertLeadsP95Ms over 15 minutes.'
    severity: 3
    enabled: true
    skipQueryValidation: true // the App* tables appear with the first telemetry, after this deployment
    scopes: [
      workspace.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: '''
AppRequests
| where Name == "list_leads" or Name == "Functions.list_leads"
| summarize p95ms = percentile(DurationMs, 95), requests = count()
| where requests >= 10
'''
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'p95ms'
          operator: 'GreaterThan'
          threshold: alertLeadsP95Ms
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: alertGroups
    }
  }
  dependsOn: [
    opsGroup
  ]
}

// Outputs in UPPER_SNAKE: azd stores them in the environment, where infra/hooks reads them.
output AZURE_FUNCTION_APP_NAME string = app.name
output API_BASE_URL string = 'https://${app.properties.defaultHostName}/api'
output KEY_VAULT_NAME string = vault.name
output STORAGE_ACCOUNT_NAME string = storage.name
output MANAGED_IDENTITY_NAME string = identity.name
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output POSTGRES_SERVER_NAME string = postgres.name
output POSTGRES_HOST string = postgres.properties.fullyQualifiedDomainName
output POSTGRES_DATABASE string = databaseName
output REDIS_HOST string = redis.properties.hostName
