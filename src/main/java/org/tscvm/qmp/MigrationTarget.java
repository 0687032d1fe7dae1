package org.tscvm.qmp;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The machine's state as a stream, for QMP's migrate and migrate-incoming: the snapshot
 * format implements it. The monitor stops every vCPU before {@link #save} and keeps them
 * stopped through {@link #load}.
 */
public interface MigrationTarget {
    /** Writes the whole machine's state to {@code out} (flushed, not closed). */
    void save(OutputStream out) throws IOException;

    /**
     * Reads a whole state from {@code in}, checks all of it, then loads it into the machine;
     * throws (and changes nothing) when the stream is not a state this machine can take.
     */
    void load(InputStream in) throws IOException;
}
