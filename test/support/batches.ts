/**
 * Applies `records` in batches of `size`, taken in order by `writers` concurrent workers: how
 * projections' property tests deliver a history as two partitions' consumers (or two rebuilding
 * processes) would.
 */
export async function applyInBatches<T>(records: readonly T[], size: number, apply: (batch: T[]) => Promise<void>, writers = 2): Promise<void> {
  const batches: T[][] = [];
  for (let i = 0; i < records.length; i += size) batches.push(records.slice(i, i + size));
  let cursor = 0;
  const worker = async () => {
    while (cursor < batches.length) await apply(batches[cursor++] as T[]);
  };
  await Promise.all(Array.from({ length: writers }, worker));
}
