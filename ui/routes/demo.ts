// Routes of the demo view: the page, play, and the live story.
import type { Hono } from 'hono';
import type { UiContext } from '../context.ts';
import { Form } from '../form.ts';
import { liveFragment } from '../sse.ts';
import { demoLog, demoPage } from '../views/demo.ts';
import { html } from 'hono/html';

export function demoRoutes(app: Hono, ctx: UiContext): void {
  const runner = ctx.demo;

  app.get('/demo', (c) => c.html(ctx.page('/demo', 'Demo story', demoPage(runner.snapshot()))));

  app.post('/api/demo/play', ctx.formLimit, async (c) => {
    await Form.read(c, []);
    runner.play();
    return c.html(html`<p>Playing run ${runner.snapshot().run}: the steps appear below as they happen.</p>`, 202);
  });

  app.get('/events/demo', (c) => liveFragment(c, ctx.streams, async () => (await demoLog(runner.snapshot())).toString(), (notify) => runner.subscribe(notify)));
}
