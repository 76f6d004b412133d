/**
 * eventline — operate an Eventline deployment: setup, run, topics, schemas, keys, replay,
 * backfill, dlq, status, templates. Configuration comes from the environment (see README).
 */
import { Command } from 'commander';
import { registerBackfillCommands } from './commands/backfill.ts';
import { registerReconcileCommands } from './commands/reconcile.ts';
import { registerProvidersCommands } from './commands/providers.ts';
import { registerFxCommands } from './commands/fx.ts';
import { registerBootstrapCommand } from './commands/bootstrap.ts';
import { registerDlqCommands } from './commands/dlq.ts';
import { registerKeysCommands } from './commands/keys.ts';
import { registerRiskCommands } from './commands/risk.ts';
import { registerPrivacyCommand } from './commands/privacy.ts';
import { registerReplayCommands } from './commands/replay.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerStatusCommand } from './commands/status.ts';
import { registerTemplatesCommands } from './commands/templates.ts';
import { registerSetupCommands } from './commands/setup.ts';
import { fail } from './output.ts';

const program = new Command();
program.name('eventline').description('Event-sourced billing and messaging backbone').showHelpAfterError();
registerSetupCommands(program);
registerRunCommand(program);
registerBootstrapCommand(program);
registerKeysCommands(program);
registerRiskCommands(program);
registerPrivacyCommand(program);
registerReplayCommands(program);
registerStatusCommand(program);
registerDlqCommands(program);
registerBackfillCommands(program);
registerReconcileCommands(program);
registerFxCommands(program);
registerProvidersCommands(program);
registerTemplatesCommands(program);

program.parseAsync(process.argv).catch(fail);
