/**
 * The cluster network's records. NodeSubnetRecord - reconciler's subnet allocator (bucket
 * `subnets`, key `<node>`): which task subnet a node's tasks take their addresses from, decided by
 * the control plane so that no two nodes ever hold overlapping ones (a node's own record only says
 * what it asks for).
 */

/** NodeSubnetRecord is one node's task subnet as the control plane allocated it. */
export interface NodeSubnetRecord {
  node: string;
  /** the node's task subnet (CIDR); absent when none could be given (see problem) */
  subnet?: string;
  /** the range the control plane allocates node subnets from: task traffic leaving it is masqueraded */
  clusterCidr?: string;
  /** why the node has no subnet: its requested one overlaps another node's, or the cluster CIDR is full */
  problem?: string;
  updatedAt: string;
}
