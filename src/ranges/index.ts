/** Block-sparse reductions (pykeops's `ranges`) and the cluster utilities that build them. */
export { checkRanges, checkRangeSizes, type Ranges, type RangesSpec, type RangeTriple } from "./spec.js";
export { runRanged, runRangedAsync, type RangedLayout } from "./run.js";
export { rangedLayout } from "./layout.js";
export { gridCluster, sortClusters, clusterRanges, clusterCentroids, clusterRangesCentroids, fromMatrix, swapAxes } from "./cluster.js";
export { assignedRanges, mergeRanges, transposedRanges } from "./state.js";
