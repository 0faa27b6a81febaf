/**
 * The credentials a replay sends, from the environment (docs/REPLAY.md section 5): never stored,
 * never printed. The `openai` upstream is Azure OpenAI when its host is an Azure OpenAI resource's
 * (`*.openai.azure.com`, `*.cognitiveservices.azure.com`) or its URL carries an `api-version`
 * query (Azure's API version, which a gateway in front of Azure takes too): it is sent
 * AZURE_OPENAI_API_KEY (the variable the openai SDK's AzureOpenAI client reads) as the `api-key`
 * header, and never OPENAI_API_KEY, which is OpenAI's and not for another party.
 */

/** Hosts of Azure OpenAI resources (an Azure OpenAI or AI services resource's endpoint). */
const AZURE_HOST_SUFFIXES = ['.openai.azure.com', '.cognitiveservices.azure.com'];

/** Whether the upstream URL `url` (with its query, if any) is Azure OpenAI's, as this module's comment says. */
export function isAzureUpstream(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const host = parsed.hostname.toLowerCase();
  return AZURE_HOST_SUFFIXES.some((suffix) => host.endsWith(suffix)) || parsed.searchParams.has('api-version');
}

interface Credential {
  /** The environment variable holding the key. */
  env: string;
  /** What the upstream is called in the message said when the variable is not set. */
  name: string;
  headers(key: string): Record<string, string>;
}

const OPENAI: Credential = { env: 'OPENAI_API_KEY', name: 'openai', headers: (key) => ({ authorization: `Bearer ${key}` }) };
const AZURE: Credential = { env: 'AZURE_OPENAI_API_KEY', name: 'openai (Azure OpenAI)', headers: (key) => ({ 'api-key': key }) };
const ANTHROPIC: Credential = { env: 'ANTHROPIC_API_KEY', name: 'anthropic', headers: (key) => ({ 'x-api-key': key, 'anthropic-version': '2023-06-01' }) };

/** The credential of upstream `name` whose URL is `url` (undefined: the provider's public URL). */
function credentialOf(name: string, url: string | undefined): Credential | undefined {
  if (name === 'anthropic') return ANTHROPIC;
  if (name === 'openai') return url !== undefined && isAzureUpstream(url) ? AZURE : OPENAI;
  return undefined;
}

/**
 * The headers each upstream is sent, from `env`; `upstreams` as --upstream gave them. An upstream
 * whose variable is not set gets none, said once through `warn` (naming the variable, never a
 * key): a provider answers such a call 401, a local OpenAI-compatible server may need none.
 */
export function replayCredentials(env: NodeJS.ProcessEnv, upstreams: { readonly [name: string]: string }, warn: (line: string) => void): (upstream: string) => Record<string, string> {
  const said = new Set<string>();
  return (upstream) => {
    const credential = credentialOf(upstream, upstreams[upstream]);
    if (credential === undefined) return {};
    const key = env[credential.env];
    if (key === undefined || key === '') {
      if (!said.has(upstream)) {
        said.add(upstream);
        const other = credential === AZURE ? '; OPENAI_API_KEY is not sent to it' : '';
        warn(`runprint: replay: ${credential.env} is not set: the request to ${credential.name} is sent without a credential (a provider answers 401; a local server may need none${other})\n`);
      }
      return {};
    }
    return credential.headers(key);
  };
}
