// The Azure clouds this app knows, by ARM host: each one's Storage suffix (private endpoints keep these
// names, through privatelink CNAMEs) and its portal. One table, so that a new cloud is one row.

export interface Cloud {
  storageSuffix: string;
  portal: string;
}

const CLOUDS: Record<string, Cloud> = {
  'management.azure.com': { storageSuffix: 'core.windows.net', portal: 'https://portal.azure.com' },
  'management.usgovcloudapi.net': { storageSuffix: 'core.usgovcloudapi.net', portal: 'https://portal.azure.us' },
  'management.chinacloudapi.cn': { storageSuffix: 'core.chinacloudapi.cn', portal: 'https://portal.azure.cn' },
};

/** The cloud ARM_ENDPOINT names, or undefined (a stand-in, a cloud we do not know). */
export function cloudOf(armEndpoint: string): Cloud | undefined {
  try {
    return CLOUDS[new URL(armEndpoint).hostname.toLowerCase()];
  } catch {
    return undefined;
  }
}
