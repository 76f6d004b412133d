/** The runtime of one CLI command: opened from the environment, always closed. */
import { Runtime } from '../lib/runtime.ts';

export async function withRuntime<T>(fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = Runtime.forCli();
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}
