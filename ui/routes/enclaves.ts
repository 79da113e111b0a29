// Routes of the enclaves view: the page, its live list, start, terminate, and the console stream.
import type { Hono } from 'hono';
import type { UiContext } from '../context.ts';
import { EnclaveDesk } from '../enclaves.ts';
import { UiNotFoundError } from '../errors.ts';
import { Form } from '../form.ts';
import { every, liveFragment, textStream } from '../sse.ts';
import { enclaveList, enclavesPage, started, terminated } from '../views/enclaves.ts';

export function enclaveRoutes(app: Hono, ctx: UiContext): void {
  const desk = ctx.enclaves;

  app.get('/enclaves', (c) => {
    const list = desk.list();
    const consoleId = c.req.query('console');
    const consoleOf = consoleId === undefined ? undefined : list.find((e) => e.EnclaveID === consoleId);
    if (consoleId !== undefined && !consoleOf) throw new UiNotFoundError(`no enclave with id ${consoleId}`);
    return c.html(ctx.page('/enclaves', 'Enclaves', enclavesPage(list, consoleOf)));
  });

  app.get('/events/enclaves', (c) => liveFragment(c, ctx.streams, async () => (await enclaveList(desk.list())).toString(), every(ctx.pollMs)));

  app.post('/api/enclaves/start', ctx.formLimit, async (c) => {
    const f = await Form.read(c, ['example', 'memory', 'cpus', 'name', 'debug']);
    const example = EnclaveDesk.example(f.required('example', 64)).name;
    const name = f.text('name', 64);
    const run = await desk.start({
      example,
      memoryMiB: f.int('memory', 1, 1 << 20) ?? 256,
      cpuCount: f.int('cpus', 1, 1024) ?? 1,
      debugMode: f.flag('debug'),
      ...(name !== undefined ? { name } : {}),
    });
    return c.html(started(run));
  });

  app.post('/api/enclaves/terminate', ctx.formLimit, async (c) => {
    const f = await Form.read(c, ['id']);
    const id = f.required('id', 64);
    await desk.terminate(id);
    return c.html(terminated(id));
  });

  app.get('/events/console', (c) => {
    const id = c.req.query('id');
    if (id === undefined) throw new UiNotFoundError('no enclave id given');
    return textStream(c, ctx.streams, (sink) => desk.console(id, sink));
  });
}
