import { churn, flood } from './bounded-state.ts';
const which = process.argv[2];
if (which === 'flood') console.log(JSON.stringify(await flood(Number(process.argv[3] ?? 10), 10_000, Number(process.argv[4] ?? 30)), null, 1));
else { const r = await churn(Number(process.argv[3] ?? 50_000)); console.log(JSON.stringify({ ...r, samples: r.samples.map((s) => `${s.atSeconds}s ${s.rssMb}MB ${s.dbMb}MB ${s.tracked}`) }, null, 1)); }
process.exit(0);
