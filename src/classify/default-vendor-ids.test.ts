/**
 * Default identities that must match what ships on Macs, or everyday uploads by sanctioned agents are not recognised.
 */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { classifyApp } from './allowlists.js';

describe('Microsoft Intune agent (MDM) is a sanctioned uploader by default', () => {
  // Its bundle/signing id is com.microsoft.intuneMDMAgent (launchd label com.microsoft.intuneMDMAgent.daemon); the default
  // prefix com.microsoft.intune matches only com.microsoft.intune and com.microsoft.intune.*.
  it.each(['com.microsoft.intuneMDMAgent', 'com.microsoft.intuneMDMAgent.daemon'])('%s', (signingId) => {
    expect(classifyApp(defaultConfig(), 'UBF8T346G9', signingId).sanctioned).toBe(true);
  });
});

describe("VPN clients' own tunnels are sanctioned by default (else AN0082 fires daily on every host that runs one)", () => {
  it.each([
    ['PXPZ95SK77', 'com.paloaltonetworks.GlobalProtect.client.extension'],
    ['DE8Y96K9QP', 'com.cisco.anyconnect.macos.acsockext'],
    ['PCBCQZJ7S7', 'com.zscaler.zscaler.TRPTunnel'],
    ['W5364U7YZB', 'io.tailscale.ipn.macsys.network-extension'],
  ])('%s %s', (team, signingId) => {
    expect(classifyApp(defaultConfig(), team, signingId).sanctioned).toBe(true);
  });

  it('matched by team id, never by signing id alone: the same signing id under another team is not sanctioned', () => {
    expect(classifyApp(defaultConfig(), 'ABCDE12345', 'io.tailscale.ipn.macsys.network-extension').sanctioned).toBe(false);
  });
});
