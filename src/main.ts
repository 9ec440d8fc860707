import { createApp } from './app.js';
import { loadConfigOrExit } from './config/index.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit();

  const { app, close } = await createApp(config);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    // In-flight requests finish (open job event streams are ended); a stuck one does not hold
    // the process forever. docker-compose's stop_grace_period for the API is set above this.
    const force = setTimeout(() => {
      app.log.error('shutdown took longer than 15 s: exiting without finishing it');
      process.exit(1);
    }, 15_000);
    force.unref();
    await close();
    app.log.info('server stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
