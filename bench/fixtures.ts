/** Realistic benchmark inputs: compositions and OpenAI Chat requests of a chosen size. */

const SENTENCES = [
  'The quarterly report shows revenue growth of 12% across all regions.',
  'Der Bericht zeigt ein Umsatzwachstum von 12 % in allen Regionen — bemerkenswert.',
  'Le rapport trimestriel montre une croissance de 12 % dans toutes les régions.',
  '四半期報告書は、すべての地域で12%の収益成長を示しています。',
  'Квартальный отчёт показывает рост выручки на 12% во всех регионах.',
  'التقرير الفصلي يظهر نموًا في الإيرادات بنسبة 12٪ في جميع المناطق.',
  'Summary requested 📊 — include "quoted" text, tabs\tand newlines\nwhere needed.',
];

function text(seed: number, sentences: number): string {
  let out = '';
  for (let i = 0; i < sentences; i++) out += `${SENTENCES[(seed + i * 3) % SENTENCES.length]} `;
  return out.trim();
}

function tool(index: number): Record<string, unknown> {
  return {
    type: 'function',
    function: {
      name: `tool_${index}_lookup`,
      description: text(index, 2),
      parameters: {
        type: 'object',
        properties: {
          query: { type: 'string', description: 'What to look up.' },
          limit: { type: 'integer', minimum: 1, maximum: 50, default: 10 },
          filters: {
            type: 'object',
            properties: { region: { type: 'string', enum: ['emea', 'amer', 'apac'] }, year: { type: 'integer' } },
            additionalProperties: false,
          },
        },
        required: ['query'],
        additionalProperties: false,
      },
      strict: true,
    },
  };
}

/** An OpenAI Chat Completions request whose JSON text is about `bytes` long. */
export function chatRequest(bytes: number): Record<string, unknown> {
  const messages: Array<Record<string, unknown>> = [
    { role: 'system', content: 'You are a financial analyst. Cite the documents you use. ' + text(1, 3) },
  ];
  const tools = [tool(1), tool(2)];
  const request: Record<string, unknown> = {
    model: 'gpt-4o-2024-08-06',
    messages,
    tools,
    temperature: 0.2,
    top_p: 0.95,
    max_completion_tokens: 1024,
    seed: 42,
    response_format: { type: 'text' },
    stream: true,
    user: 'bench-user',
  };
  let turn = 0;
  while (JSON.stringify(request).length < bytes) {
    const context = `<document id="doc-${turn}">${text(turn, 4)}</document>`;
    messages.push({ role: 'user', content: [{ type: 'text', text: `${context}\n${text(turn + 2, 1)}` }] });
    messages.push({ role: 'assistant', content: text(turn + 5, 2) });
    if (turn % 5 === 4 && tools.length < 12) tools.push(tool(tools.length + 1));
    turn++;
  }
  return request;
}

/**
 * A composition whose JSON text is about `bytes` long, shaped like a retrieval-augmented chat turn:
 * a system prompt, tool schemas, retrieval chunks of about 1.2 KB and a conversation. With
 * `elementBytes` small, it is instead many short messages and documents: the worst case for
 * per-element hashing.
 */
export function composition(bytes: number, shape: 'rag' | 'many-small' = 'rag'): Record<string, unknown> {
  const small = shape === 'many-small';
  const input: Array<Record<string, unknown>> = [];
  const context: Array<Record<string, unknown>> = [];
  const tools = [tool(1)];
  const value: Record<string, unknown> = {
    version: 'runprint/v1',
    model: { api: 'openai-chat', name: 'gpt-4o-2024-08-06' },
    system: [{ role: 'system', content: 'You are a financial analyst. Cite the documents you use. ' + text(1, 6) }],
    input,
    context,
    tools,
    parameters: { temperature: 0.2, top_p: 0.95, max_completion_tokens: 1024, seed: 42 },
    configuration: { response_format: { type: 'text' } },
    served: { model: { source: 'reported', value: 'gpt-4o-2024-08-06' }, systemFingerprint: { source: 'reported', value: 'fp_abc123' } },
  };
  let turn = 0;
  while (JSON.stringify(value).length < bytes) {
    context.push({ id: `doc-${turn}`, title: `Report ${turn}`, text: text(turn, small ? 3 : 14), score: 0.5 + turn / 1000 });
    if (small || turn % 2 === 0) {
      input.push({ role: 'user', content: text(turn + 2, small ? 1 : 2) });
      input.push({ role: 'assistant', content: text(turn + 5, small ? 2 : 5) });
    }
    if (turn % (small ? 5 : 2) === 1 && tools.length < 12) tools.push(tool(tools.length + 1));
    turn++;
  }
  return value;
}
