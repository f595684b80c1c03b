import { runProgram, SHARED_STACK_ENV } from './helpers/program';
test('smoke', async () => {
  const run = await runProgram('dev');
  console.log(run.declared.map((d) => `${d.type} ${d.name} protect=${d.protect} retain=${d.retainOnDelete}`).join('\n'));
  console.log(JSON.stringify(run.outputs, null, 1));
  const r2 = await runProgram('prod', { env: SHARED_STACK_ENV });
  console.log(r2.declared.length);
});
