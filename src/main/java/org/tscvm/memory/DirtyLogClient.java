package org.tscvm.memory;

/** Who logs dirty pages: each client sees every store since its own last sync. */
public enum DirtyLogClient {
    /** Pre-copy live migration: pages to send again. */
    MIGRATION,
    /** Reverse execution: pages a checkpoint must keep. */
    REVERSE_EXECUTION
}
