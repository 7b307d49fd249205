/**
 * Loss and accuracy of one batch of logits, accumulated so batches add up exactly:
 * one logit per example → binary cross-entropy with logits, prediction `z > 0`;
 * C logits → softmax cross-entropy, prediction argmax (first maximum, as torch.argmax).
 * Per-example losses are computed in float64 from the float32 logits and summed in float64 (the fixtures
 * compute them in float32; the difference is far below their 1e-5 tolerance).
 */
export interface LossTally {
  lossSum: number;
  correct: number;
  n: number;
  /** Examples whose loss was NaN or infinite (diverged states); they count in lossSum as such. */
  nonFinite: number;
}

export const emptyTally = (): LossTally => ({ lossSum: 0, correct: 0, n: 0, nonFinite: 0 });

/**
 * The mean loss of a tally (or of a stored point, which keeps its tally): L = lossSum / n, the curve L(α) of
 * Vlaar & Frankle (2022). NaN or ±∞ when a diverged state summed such losses in.
 */
export const meanLoss = (tally: Pick<LossTally, 'lossSum' | 'n'>): number => tally.lossSum / tally.n;

/**
 * Loss and accuracy as linpath reports them: the mean loss, null when it is not finite (JSON has no NaN; the
 * point's nonFinite count says why), and accuracy = correct / n.
 */
export function reportedMetrics(tally: Pick<LossTally, 'lossSum' | 'correct' | 'n'>): {
  loss: number | null;
  accuracy: number;
} {
  const loss = meanLoss(tally);
  return { loss: Number.isFinite(loss) ? loss : null, accuracy: tally.correct / tally.n };
}

export function tallyBatch(
  tally: LossTally,
  logits: Float32Array,
  labels: ArrayLike<number>,
  outputs: number,
): LossTally {
  const n = labels.length;
  if (logits.length !== n * outputs) {
    throw new RangeError(`tallyBatch: expected ${n} × ${outputs} logits, got ${logits.length}`);
  }
  let { lossSum, correct, nonFinite } = tally;
  if (outputs === 1) {
    for (let i = 0; i < n; i++) {
      const z = logits[i]!;
      const y = labels[i]!;
      // max(z, 0) − z·y + log(1 + exp(−|z|)): stable for large |z|.
      const loss = Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
      if (!Number.isFinite(loss)) nonFinite++;
      lossSum += loss;
      if ((z > 0 ? 1 : 0) === y) correct++;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const row = i * outputs;
      let max = -Infinity;
      let argmax = 0;
      for (let c = 0; c < outputs; c++) {
        const z = logits[row + c]!;
        if (z > max) {
          max = z;
          argmax = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < outputs; c++) sum += Math.exp(logits[row + c]! - max);
      const y = labels[i]!;
      const loss = max + Math.log(sum) - logits[row + y]!;
      if (!Number.isFinite(loss)) nonFinite++;
      lossSum += loss;
      if (argmax === y) correct++;
    }
  }
  return { lossSum, correct, n: tally.n + n, nonFinite };
}
