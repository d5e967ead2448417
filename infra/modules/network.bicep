// Optional (main.bicep enableStaticEgressIp): a virtual network whose one subnet the Function App integrates with, and a
// NAT gateway with a static public IP on that subnet, so the app's outgoing calls (token refreshes, Microsoft Graph)
// leave from one known address. Conditional Access evaluates a refresh at the caller's IP, and Flex Consumption has no
// static outbound IP otherwise: a customer tenant can then trust this address as a named location instead of excluding
// the designated service accounts from location policies (docs/deploy.md, "Conditional Access for designated service
// accounts"). Flex Consumption integrates with a subnet delegated to Microsoft.App/environments
// (learn.microsoft.com/azure/azure-functions/flex-consumption-how-to, "Configure networking"; a NAT gateway on the
// integration subnet gives the outbound IP: learn.microsoft.com/azure/azure-functions/functions-how-to-use-nat-gateway).

@description('Name of the virtual network; the NAT gateway and its IP take this name with a suffix.')
param name string

@description('Azure region (the Function App\'s).')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Address space of the virtual network.')
param addressPrefix string

@description('Address range of the Function App\'s integration subnet (Flex Consumption: /27 or larger).')
param appSubnetPrefix string

resource egressIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: '${name}-egress-ip'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: '${name}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: egressIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          natGateway: {
            id: natGateway.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
    ]
  }
}

@description('Resource id of the integration subnet (the site\'s virtualNetworkSubnetId).')
output appSubnetId string = '${vnet.id}/subnets/app'

@description('The static outbound IP address: what a customer tenant trusts as a named location.')
output egressIpAddress string = egressIp.properties.ipAddress
