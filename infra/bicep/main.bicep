// Hunter on Azure: the function app (Python 3.11, v2 programming model), its Storage account
// (functions runtime + the scan-requests / d365-push / notifications queues and their -poison queues),
// PostgreSQL Flexible Server, Azure Cache for Redis, Key Vault for every secret, and
// Application Insights. Deploy:
//   az group create -n hunter-prod -l westeurope
//   az deployment group create -g hunter-prod -f infra/bicep/main.bicep -p infra/bicep/main.parameters.example.json
// then publish the code: func azure functionapp publish <functionAppName> --python

targetScope = 'resourceGroup'

@description('Short name used in every resource name (lowercase letters and digits).')
@minLength(3)
@maxLength(11)
param prefix string = 'hunter'

param location string = resourceGroup().location

@description('PostgreSQL administrator login (the password goes to Key Vault).')
param postgresAdminLogin string = 'hunteradmin'

@secure()
@description('PostgreSQL administrator password.')
param postgresAdminPassword string

@secure()
@description('Fernet key that encrypts the stored MSAL token cache (python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").')
param tokenCacheKey string

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

@description('NCRONTAB schedule of the e-mail digest timer (UTC).')
param digestSchedule string = '0 0 7 * * *'

@description('SMTP relay for alert e-mails (e.g. smtp.office365.com or smtp.azurecomm.net); empty = no e-mail.')
param smtpHost string = ''

@description('Sender address of alert e-mails.')
param smtpFrom string = ''

@description('Most leads one rescan timer run submits.')
@minValue(1)
@maxValue(100000)
param rescanBudget int = 5000

@description('Browser origins allowed to call the API (comma list).')
param corsOrigins string = ''

var suffix = uniqueString(resourceGroup().id)
var names = {
  storage: toLower('${prefix}st${suffix}')
  plan: '${prefix}-plan-${suffix}'
  app: '${prefix}-func-${suffix}'
  insights: '${prefix}-ai-${suffix}'
  workspace: '${prefix}-log-${suffix}'
  vault: '${prefix}-kv-${take(suffix, 8)}'
  postgres: '${prefix}-pg-${suffix}'
  redis: '${prefix}-redis-${suffix}'
}
// Queue names come from shared/queues/runtime.py (QUEUE_FUNCTIONS); a test keeps them in step.
var queues = [
  'scan-requests'
  'scan-requests-poison'
  'd365-push'
  'd365-push-poison'
  'notifications'
  'notifications-poison'
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: names.workspace
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.insights
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: names.storage
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
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

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: names.postgres
  location: location
  sku: {
    name: 'Standard_B1ms'
    tier: 'Burstable'
  }
  properties: {
    version: '16'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: { storageSizeGB: 32 }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: { mode: 'Disabled' }
  }
}

resource postgresDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: 'hunter'
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// Hunter's search index uses pg_trgm (migration 0003): it must be allow-listed on Flexible Server.
resource postgresExtensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: postgres
  name: 'azure.extensions'
  properties: {
    value: 'PG_TRGM'
    source: 'user-override'
  }
}

resource postgresAllowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource redis 'Microsoft.Cache/redis@2024-03-01' = {
  name: names.redis
  location: location
  properties: {
    sku: {
      name: 'Basic'
      family: 'C'
      capacity: 0
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
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
    softDeleteRetentionInDays: 30
  }
}

var secrets = {
  'database-url': 'postgresql+pg8000://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/hunter?sslmode=require'
  'redis-url': 'rediss://:${redis.listKeys().primaryKey}@${redis.properties.hostName}:6380/0'
  'token-cache-key': tokenCacheKey
  'd365-client-secret': empty(d365ClientSecret) ? 'unset' : d365ClientSecret
  'storage-connection': 'DefaultEndpointsProtocol=https;AccountName=${storage.name};AccountKey=${storage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'
}

resource secretResources 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in items(secrets): {
  parent: vault
  name: secret.key
  properties: { value: secret.value }
}]

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: names.plan
  location: location
  sku: {
    name: 'EP1'
    tier: 'ElasticPremium'
  }
  kind: 'elastic'
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: 10
  }
}

func kvRef(vaultName string, secretName string) string =>
  '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${secretName})'

resource app 'Microsoft.Web/sites@2023-12-01' = {
  name: names.app
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.11'
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      healthCheckPath: '/api/healthz/ready'
      cors: {
        allowedOrigins: empty(corsOrigins) ? [] : split(corsOrigins, ',')
      }
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'python' }
        { name: 'AzureWebJobsStorage', value: kvRef(vault.name, 'storage-connection') }
        { name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING', value: kvRef(vault.name, 'storage-connection') }
        { name: 'WEBSITE_CONTENTSHARE', value: toLower(names.app) }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'HUNTER_DATABASE_URL', value: kvRef(vault.name, 'database-url') }
        { name: 'HUNTER_QUEUE_BACKEND', value: 'azure' }
        { name: 'HUNTER_REDIS_URL', value: kvRef(vault.name, 'redis-url') }
        { name: 'HUNTER_TOKEN_CACHE_KEY', value: kvRef(vault.name, 'token-cache-key') }
        { name: 'HUNTER_LOG_LEVEL', value: 'INFO' }
        { name: 'HUNTER_AUTO_MIGRATE', value: 'false' } // the schema is migrated by the deploy (hunter migrate), never inside a request
        { name: 'HUNTER_CORS_ORIGINS', value: corsOrigins }
        { name: 'HUNTER_PUBLIC_URL', value: 'https://${names.app}.azurewebsites.net/api/ui/' }
        { name: 'HUNTER_D365_ENABLED', value: string(d365Enabled) }
        { name: 'HUNTER_D365_URL', value: d365Url }
        { name: 'HUNTER_D365_TENANT_ID', value: d365TenantId }
        { name: 'HUNTER_D365_CLIENT_ID', value: d365ClientId }
        { name: 'HUNTER_D365_CLIENT_SECRET', value: kvRef(vault.name, 'd365-client-secret') }
        { name: 'HUNTER_PARTNER_CENTER_ENABLED', value: string(partnerCenterEnabled) }
        { name: 'HUNTER_PC_TENANT_ID', value: pcTenantId }
        { name: 'HUNTER_PC_CLIENT_ID', value: pcClientId }
        { name: 'HUNTER_PC_SYNC_SCHEDULE', value: pcSyncSchedule }
        { name: 'HUNTER_RESCAN_SCHEDULE', value: rescanSchedule }
        { name: 'HUNTER_RESCAN_BUDGET', value: string(rescanBudget) }
        { name: 'HUNTER_DIGEST_SCHEDULE', value: digestSchedule }
        { name: 'HUNTER_SMTP_HOST', value: smtpHost }
        { name: 'HUNTER_SMTP_FROM', value: smtpFrom }
      ]
    }
  }
}

// The app reads its secrets through Key Vault references with its managed identity.
var keyVaultSecretsUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')

resource appReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, app.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: keyVaultSecretsUser
  }
}

output functionAppName string = app.name
output apiBaseUrl string = 'https://${app.properties.defaultHostName}/api'
output keyVaultName string = vault.name
output postgresHost string = postgres.properties.fullyQualifiedDomainName
