// The app's one user-assigned managed identity. User-assigned (not system-assigned) so that it exists before
// the function app does: its role assignments are in place before the Functions host first starts, and the
// identity survives re-creating the app.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id of the identity.')
output id string = identity.id

@description('Name of the identity.')
output name string = identity.name

@description('Client (application) id: what AZURE_CLIENT_ID and the *__clientId settings carry.')
output clientId string = identity.properties.clientId

@description('Object (principal) id: what role assignments grant to.')
output principalId string = identity.properties.principalId
