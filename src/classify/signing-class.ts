/**
 * Code-signing classification (SPEC §2 `code_signing`, formats.md §4.3), pure: parsed codesign/spctl
 * output or eslogger process fields in, table fields out. Never classifies on Authority lines alone:
 * `Authority=(unavailable)` happens on current macOS, so platform identifier, flags, stapled tickets,
 * spctl's `source=` and requirement checks decide when the chain is missing.
 */
export type SignatureClass =
  | 'apple_platform'
  | 'apple'
  | 'app_store'
  | 'developer_id'
  | 'development'
  | 'adhoc'
  | 'unsigned'
  | 'invalid'
  | 'package'
  | 'unknown';

/** What `codesign -dvvv --verbose=4 PATH` said (parse-codesign.ts). */
export interface CodesignInfo {
  /** `code object is not signed at all`. */
  notSigned: boolean;
  /** The tool reported an error other than "not signed" (missing file, bundle format…). */
  error: string | null;
  identifier: string | null;
  format: string | null;
  /** CodeDirectory flag names (`runtime`, `adhoc`, `linker-signed`…). */
  cdFlags: string[];
  cdFlagsValue: number | null;
  platformIdentifier: number | null;
  /** Lowercase hex. */
  cdhash: string | null;
  /** `Signature=adhoc`. */
  signatureAdhoc: boolean;
  /** Leaf first; `(unavailable)` kept verbatim. */
  authorities: string[];
  /** null for `not set` or absent. */
  teamId: string | null;
  notarizationStapled: boolean;
}

/** Result of `codesign --verify --strict`. null = not run or inconclusive. */
export type VerifyResult = { valid: boolean; reason: string | null } | null;

/** What spctl --assess said (parse-spctl.ts). */
export interface SpctlInfo {
  verdict: 'accepted' | 'rejected' | null;
  reason: string | null;
  source: string | null;
  origin: string | null;
}

/** Outcome of `codesign -v -R=<requirement>`: true exit 0, false exit 3, null otherwise/not run. */
export interface RequirementChecks {
  anchorApple?: boolean | null;
  developerId?: boolean | null;
  appStore?: boolean | null;
  /** `anchor apple generic`: the chain is Apple's (any certificate Apple issued: Developer ID, App Store, development). */
  appleIssued?: boolean | null;
}

export interface SigningFields {
  signed: number;
  valid: number;
  signature_class: SignatureClass;
  team_id: string;
  signing_id: string;
  authority: string;
  cdhash: string;
  notarized: number;
  hardened_runtime: number;
  identity: string;
}

export const CS_FLAGS = {
  VALID: 0x1,
  ADHOC: 0x2,
  GET_TASK_ALLOW: 0x4,
  RUNTIME: 0x10000,
  LINKER_SIGNED: 0x20000,
  PLATFORM_BINARY: 0x4000000,
  SIGNED: 0x20000000,
} as const;

/** Requirement strings for `codesign -v -R=…`: when the certificate chain is unavailable, and to confirm a printed one. */
export const REQUIREMENTS = {
  anchorApple: 'anchor apple',
  appleIssued: 'anchor apple generic',
  // Developer ID: leaf has the Developer ID Application extension, intermediate the Developer ID CA one.
  developerId: 'anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] exists and certificate leaf[field.1.2.840.113635.100.6.1.13] exists',
  // Mac App Store: leaf has Apple's "Mac App Store Application Software Signing" extension.
  appStore: 'anchor apple generic and certificate leaf[field.1.2.840.113635.100.6.1.9] exists',
} as const;

/**
 * Team ids Apple itself ships App Store apps under (Xcode: 59GAB85EFG; Pages, Keynote, Apple
 * Configurator: K36BKF7T3D). SPEC §2 puts Apple's own App Store apps in `apple`, not `app_store`.
 */
export const APPLE_TEAM_IDS: ReadonlySet<string> = new Set(['59GAB85EFG', 'K36BKF7T3D']);

const SIGNED_CLASSES = new Set<SignatureClass>(['apple_platform', 'apple', 'app_store', 'developer_id', 'development']);

/**
 * An Apple certificate chain vouches for the team id of code of this class. Anywhere else the team id is
 * text the file carries (a tampered vendor binary keeps it; ad-hoc code directories and self-signed
 * certificates can claim any), so it must never match an allowlist or mark a terminal app.
 */
export function teamVouched(cls: string): boolean {
  return SIGNED_CLASSES.has(cls as SignatureClass);
}
const DEVELOPMENT_LEAVES = [/^Apple Development:/, /^Mac Developer:/, /^iPhone Developer:/, /^iPhone Distribution:/, /^Apple Distribution:/, /^TestFlight/];

/** Team id in a leaf like `Developer ID Application: Example Ltd (Q7R2K9W4ZD)`. */
export function teamFromAuthority(authority: string | undefined): string | null {
  const m = authority ? /\(([A-Z0-9]{10})\)\s*$/.exec(authority) : null;
  return m ? m[1]! : null;
}

/**
 * The printed chain ends at an Apple root. Leaf names are only text in a certificate: a self-signed one can
 * be called "Developer ID Application: <vendor> (<TEAM>)", so a leaf counts only under Apple's root.
 */
export function appleAnchoredChain(info: Pick<CodesignInfo, 'authorities'>): boolean {
  return info.authorities.some((a) => /^Apple Root CA\b/.test(a));
}

export function leafAuthority(info: Pick<CodesignInfo, 'authorities'>): string | null {
  const leaf = info.authorities[0];
  if (!leaf || leaf === '(unavailable)') return null;
  return leaf;
}

/**
 * App identity (SPEC §2): `team:<TEAM or APPLE>/<signing_id>` for signed code, `cdhash:<hash>` for adhoc,
 * unsigned and invalid code (an invalid signature proves nothing about who made it, so it must not borrow
 * a real app's identity). `package:<name>` for Linux distro packages. Empty when nothing identifies it.
 */
export function identityFor(cls: SignatureClass, teamId: string, signingId: string, cdhash: string): string {
  if (SIGNED_CLASSES.has(cls)) {
    if (!signingId) return cdhash ? `cdhash:${cdhash}` : '';
    return `team:${teamId || 'APPLE'}/${signingId}`;
  }
  if (cls === 'package') return signingId ? `package:${signingId}` : '';
  if (cls === 'adhoc' || cls === 'unsigned' || cls === 'invalid') return cdhash ? `cdhash:${cdhash}` : '';
  // Valid team-signed code of a kind we could not name still has a stable identity.
  if (cls === 'unknown' && teamId && signingId) return `team:${teamId}/${signingId}`;
  return '';
}

/** Class from codesign's display output plus the verify result, spctl and requirement checks. */
export function classifyCodesign(
  info: CodesignInfo,
  verify: VerifyResult,
  extra: { spctl?: SpctlInfo | null; requirements?: RequirementChecks; notarizationCheck?: boolean | null } = {},
): SigningFields {
  const signingId = info.identifier ?? '';
  const cdhash = (info.cdhash ?? '').toLowerCase();
  const flags = new Set(info.cdFlags);
  const hardened = info.notSigned ? 0 : flags.has('runtime') || ((info.cdFlagsValue ?? 0) & CS_FLAGS.RUNTIME) !== 0 ? 1 : info.cdFlagsValue === null && !info.cdFlags.length ? -1 : 0;
  const leaf = leafAuthority(info);
  const teamId = info.teamId ?? teamFromAuthority(leaf ?? undefined) ?? '';
  const base = { team_id: teamId, signing_id: signingId, authority: leaf ?? '', cdhash, hardened_runtime: hardened };

  if (info.notSigned) {
    return { ...base, signed: 0, valid: 0, signature_class: 'unsigned', team_id: '', signing_id: '', authority: '', notarized: 0, hardened_runtime: 0, identity: identityFor('unsigned', '', '', cdhash) };
  }
  if (info.error && !info.identifier && !info.cdhash) {
    return { ...base, signed: -1, valid: -1, signature_class: 'unknown', notarized: -1, identity: '' };
  }
  if (verify && !verify.valid) {
    return { ...base, signed: 1, valid: 0, signature_class: 'invalid', notarized: -1, identity: identityFor('invalid', teamId, signingId, cdhash) };
  }
  const valid = verify ? 1 : -1;
  const notarized = notarizedFrom(info, extra.spctl ?? null, extra.notarizationCheck ?? null);

  let cls: SignatureClass;
  if (info.signatureAdhoc || flags.has('adhoc') || flags.has('linker-signed') || ((info.cdFlagsValue ?? 0) & (CS_FLAGS.ADHOC | CS_FLAGS.LINKER_SIGNED)) !== 0) {
    cls = 'adhoc';
  } else {
    cls = classFromChain(info, leaf, teamId, extra.spctl ?? null, extra.requirements ?? {});
  }
  // Only Developer ID code is notarized; ad-hoc code never can be.
  const notarizedOut = cls === 'developer_id' ? notarized : cls === 'adhoc' ? 0 : notarized === 1 ? 1 : -1;
  // A chain that is not Apple's vouches for no team: like invalid code, it must not borrow an app's identity. Not
  // Apple's: its root is not named Apple's, or codesign's `anchor apple generic` check failed (a root can be named
  // "Apple Root CA" by anyone; with `Authority=(unavailable)` that check is all there is).
  const foreignChain = cls === 'unknown' && ((leaf !== null && !appleAnchoredChain(info)) || extra.requirements?.appleIssued === false);
  const identity = foreignChain ? identityFor('invalid', '', '', cdhash) : identityFor(cls, cls === 'apple_platform' ? '' : teamId, signingId, cdhash);
  return { ...base, signed: 1, valid, signature_class: cls, notarized: notarizedOut, identity };
}

function classFromChain(info: CodesignInfo, leaf: string | null, teamId: string, spctl: SpctlInfo | null, req: RequirementChecks): SignatureClass {
  // First: a CodeDirectory can claim a platform identifier too; only Apple's chain makes it Apple's. Names prove
  // nothing (a self-made root can be called "Apple Root CA"): codesign's anchor check, once run, decides.
  if (leaf && (!appleAnchoredChain(info) || req.appleIssued === false)) return 'unknown';
  // The platform identifier is a CodeDirectory field the signer writes: it names Apple platform code only under Apple's
  // own leaf (a Developer ID holder can set it too), or with no chain to read.
  if (info.platformIdentifier !== null && (leaf === 'Software Signing' || (leaf === null && req.anchorApple !== false))) return 'apple_platform';
  if (leaf === 'Software Signing') return teamId ? 'apple' : 'apple_platform';
  if (leaf === 'Apple Mac OS Application Signing') return APPLE_TEAM_IDS.has(teamId) ? 'apple' : 'app_store';
  if (leaf?.startsWith('Developer ID Application:')) return 'developer_id';
  if (leaf && DEVELOPMENT_LEAVES.some((re) => re.test(leaf))) return 'development';
  if (leaf) return 'unknown';
  // No usable chain (`Authority=(unavailable)` or none printed): decide from other evidence.
  const source = spctl?.source ?? null;
  if (source === 'Apple System') return 'apple_platform';
  if (source === 'Mac App Store') return APPLE_TEAM_IDS.has(teamId) ? 'apple' : 'app_store';
  if (source === 'Notarized Developer ID' || source === 'Developer ID' || source === 'Unnotarized Developer ID') return 'developer_id';
  if (source === 'Apple') return teamId ? 'apple' : 'apple_platform';
  if (info.notarizationStapled && teamId && req.developerId !== false) return 'developer_id';
  if (req.developerId === true) return 'developer_id';
  if (req.appStore === true) return APPLE_TEAM_IDS.has(teamId) ? 'apple' : 'app_store';
  if (req.anchorApple === true) return teamId ? 'apple' : 'apple_platform';
  return 'unknown';
}

function notarizedFrom(info: CodesignInfo, spctl: SpctlInfo | null, check: boolean | null): number {
  if (info.notarizationStapled) return 1;
  if (spctl?.source === 'Notarized Developer ID') return 1;
  if (check === true) return 1;
  if (spctl?.source === 'Unnotarized Developer ID') return 0;
  if (check === false) return 0;
  return -1;
}

/** True when the class needs a notarization check to fill `notarized`. */
export function needsNotarizationCheck(fields: SigningFields, info: CodesignInfo): boolean {
  return fields.signature_class === 'developer_id' && fields.notarized === -1 && !info.notarizationStapled;
}

/** Signed code whose display printed no chain (`Authority=(unavailable)` or none) and no error. */
function signedWithoutChain(fields: SigningFields, info: CodesignInfo): boolean {
  return fields.signed === 1 && leafAuthority(info) === null && !info.error;
}

/** True when codesign's chain was unavailable and requirement checks could decide the class. */
export function needsRequirementChecks(fields: SigningFields, info: CodesignInfo): boolean {
  return fields.signature_class === 'unknown' && signedWithoutChain(fields, info);
}

/**
 * True when, with no chain printed, the class came from what the file itself claims (a platform identifier in its
 * CodeDirectory, a stapled ticket with a team id): codesign's requirement check (`anchor apple`, Developer ID) must not
 * refute it (formats.md §4.1, §4.3 step 5).
 */
export function needsClaimCheck(fields: SigningFields, info: CodesignInfo): boolean {
  if (!signedWithoutChain(fields, info)) return false;
  return (fields.signature_class === 'apple_platform' && info.platformIdentifier !== null) || (fields.signature_class === 'developer_id' && info.notarizationStapled);
}

/** Classes a printed chain can only earn under Apple's root. */
const APPLE_ISSUED: ReadonlySet<SignatureClass> = new Set<SignatureClass>(['apple_platform', 'apple', 'app_store', 'developer_id', 'development']);

/**
 * True when the class came from the names of a printed chain, which anyone can give a certificate: codesign's
 * `anchor apple generic` requirement check (RequirementChecks.appleIssued) must confirm it is Apple's.
 */
export function needsAnchorCheck(fields: SigningFields, info: CodesignInfo): boolean {
  return APPLE_ISSUED.has(fields.signature_class) && fields.signed === 1 && leafAuthority(info) !== null && !info.error;
}

export interface EsSigningFields {
  signingId: string | null;
  teamId: string | null;
  cdhash: string | null;
  platformBinary: boolean;
  codesigningFlags?: number;
  csValidationCategory?: number;
}

/** eslogger v10 `cs_validation_category` (xnu cs_blobs.h CS_VALIDATION_CATEGORY_*). */
const CATEGORY_CLASS: Record<number, SignatureClass> = {
  1: 'apple_platform',
  2: 'development', // testflight
  3: 'development',
  4: 'app_store',
  5: 'development', // enterprise
  6: 'developer_id',
  7: 'adhoc', // local signing
  10: 'unsigned',
};

/**
 * Whether the kernel vouches for the team id ES reports for a process. The kernel copies the team id out of
 * any non-platform code directory (xnu ubc_cs_blob_add → csblob_parse_teamid), ad-hoc ones included, so an
 * ad-hoc or linker-signed binary can carry any team id: only certificate-signed, valid code's team id may
 * match an allowlist (teamVouched, by the class its validation category gives). Without the category (macOS < 26)
 * ES cannot tell whose certificate signed valid, non-ad-hoc code: its team id is taken.
 */
export function esTeamVouched(f: Pick<EsSigningFields, 'codesigningFlags' | 'csValidationCategory'>): boolean {
  const flags = f.codesigningFlags;
  // the category is fixed at exec; CS_VALID is the kernel's word now (cleared once the code is not what was signed)
  if (flags !== undefined && (flags & CS_FLAGS.VALID) === 0) return false;
  if (f.csValidationCategory !== undefined) return teamVouched(CATEGORY_CLASS[f.csValidationCategory] ?? 'unknown');
  return flags !== undefined && (flags & (CS_FLAGS.ADHOC | CS_FLAGS.LINKER_SIGNED)) === 0;
}

/**
 * Class from eslogger process fields (used first when eslogger runs, SPEC §2). ES does not give the
 * certificate chain: without `cs_validation_category` (macOS < 26) a team-signed binary stays `unknown`
 * and codesign completes the row. `team_id` null is Apple platform code.
 */
export function classifyEs(f: EsSigningFields): SigningFields {
  const cdhash = f.cdhash && !/^0+$/.test(f.cdhash) ? f.cdhash.toLowerCase() : '';
  const flags = f.codesigningFlags;
  const teamId = f.teamId ?? '';
  const signingId = f.signingId ?? '';
  const hardened = flags === undefined ? -1 : flags & CS_FLAGS.RUNTIME ? 1 : 0;
  let cls: SignatureClass = f.csValidationCategory !== undefined ? (CATEGORY_CLASS[f.csValidationCategory] ?? 'unknown') : 'unknown';
  let signed = -1;
  let valid = -1;
  if (flags !== undefined) {
    signed = flags & (CS_FLAGS.SIGNED | CS_FLAGS.ADHOC | CS_FLAGS.VALID) ? 1 : 0;
    valid = flags & CS_FLAGS.VALID ? 1 : 0;
    // the kernel no longer holds the code valid (modified pages, a revoked signature): its category at exec says
    // whose it was meant to be, not whose it is
    if (signed && !valid && !(flags & (CS_FLAGS.ADHOC | CS_FLAGS.LINKER_SIGNED))) cls = 'invalid';
    if (cls === 'unknown') {
      if (!signed) cls = 'unsigned';
      else if (flags & (CS_FLAGS.ADHOC | CS_FLAGS.LINKER_SIGNED)) cls = 'adhoc';
      else if (!valid) cls = 'invalid';
      else if (flags & CS_FLAGS.PLATFORM_BINARY || (f.platformBinary && !f.teamId)) cls = 'apple_platform';
    }
  } else if (cls === 'unknown' && f.platformBinary && !f.teamId) {
    cls = 'apple_platform';
  }
  if (cls === 'app_store' && APPLE_TEAM_IDS.has(teamId)) cls = 'apple';
  if (cls === 'unsigned') signed = 0;
  else if (cls !== 'unknown' && signed === -1) signed = 1;
  if (cls !== 'unknown' && cls !== 'invalid' && cls !== 'unsigned' && valid === -1) valid = 1;
  return {
    signed,
    valid,
    signature_class: cls,
    team_id: cls === 'unsigned' ? '' : teamId,
    signing_id: cls === 'unsigned' ? '' : signingId,
    authority: '',
    cdhash,
    notarized: -1,
    hardened_runtime: hardened,
    identity: identityFor(cls, cls === 'apple_platform' ? '' : teamId, signingId, cdhash),
  };
}
