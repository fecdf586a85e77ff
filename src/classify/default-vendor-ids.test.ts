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
