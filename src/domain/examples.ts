/**
 * Examples in a model graph's input layout, [n, ...graph.inputShape] row-major (NCHW for images), with class
 * labels: what storage reads from a dataset and what the engines and the trainer take.
 */
export interface Examples {
  x: Float32Array;
  labels: Int32Array;
  n: number;
}
