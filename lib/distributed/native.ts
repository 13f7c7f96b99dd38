// The native half of torch.distributed (native/distributed.cc): `exports.distributed`, an object
// of bindings kept off the addon's top level.
import { type Handle, native } from '../native';

/** A c10d store (a Node-API external). */
export type StoreHandle = { readonly __storeHandle: unique symbol };
/** A c10d process group (a Node-API external). */
export type GroupHandle = { readonly __groupHandle: unique symbol };

export interface CollectiveCall {
  tensor?: Handle;
  tensors?: Handle[];
  inputs?: Handle[];
  input?: Handle;
  root?: number;
  reduceOp?: string;
  avg?: boolean;
  peer?: number;
  tag?: number;
}

type Ret<T, S extends boolean> = S extends true ? T : Promise<T>;

export interface DistributedNative {
  available(): { gloo: boolean; nccl: boolean; torchMajor: number; torchMinor: number };
  tcpStore<S extends boolean>(
    host: string,
    port: number,
    worldSize: number,
    isServer: boolean,
    waitWorkers: boolean,
    timeoutMs: number,
    multiTenant: boolean,
    sync: S,
  ): Ret<{ handle: StoreHandle; port: number }, S>;
  fileStore(path: string, worldSize: number): StoreHandle;
  prefixStore(prefix: string, store: StoreHandle): StoreHandle;
  storeOp<S extends boolean>(
    store: StoreHandle,
    op: string,
    name: string,
    key: string | string[] | undefined,
    value: unknown,
    sync: S,
  ): Ret<unknown, S>;
  newGroup<S extends boolean>(
    backend: string,
    groupStore: StoreHandle,
    backendStore: StoreHandle,
    rank: number,
    size: number,
    timeoutMs: number,
    groupName: string,
    groupDesc: string,
    sync: S,
  ): Ret<GroupHandle, S>;
  groupInfo(pg: GroupHandle): {
    rank: number;
    size: number;
    backend: string;
    timeoutMs: number;
    destroyed: boolean;
    inflight: number;
    checked: boolean;
  };
  setChecked(pg: GroupHandle, on: boolean): void;
  /** 1.x: the group's sequence number, as Python sets it after the store-based barrier (2.x: nothing). */
  setSequenceNumber<S extends boolean>(pg: GroupHandle, sync: S): Ret<void, S>;
  destroyGroup(pg: GroupHandle): void;
  collective<S extends boolean>(pg: GroupHandle, op: string, call: CollectiveCall, sync: S): Ret<void, S>;
}

export const D: DistributedNative = (native as unknown as { distributed: DistributedNative }).distributed;
