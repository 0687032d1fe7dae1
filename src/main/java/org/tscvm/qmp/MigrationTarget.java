package org.tscvm.qmp;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.tscvm.snapshot.PrecopySender;

/**
 * The machine's state as a stream, for QMP's migrate and migrate-incoming: the snapshot
 * format (stop-and-copy, for file: and exec:) and the pre-copy stream (for tcp:) implement it.
 */
public interface MigrationTarget {
    /** Writes the whole machine's state to {@code out} (flushed, not closed); the monitor has stopped every vCPU. */
    void save(OutputStream out) throws IOException;

    /**
     * Pre-copy: sends the machine's state to {@code out} while it runs, stopping it through
     * {@code control} for the last round, and returns once the destination's answer on
     * {@code answer} says it took the state.
     */
    void saveLive(OutputStream out, InputStream answer, PrecopySender.Control control) throws IOException;

    /**
     * Reads a whole state from {@code in} (a snapshot or a pre-copy stream; {@code in} supports
     * mark), checks it, then loads it into the machine, held by the monitor; throws when the
     * stream is not a state this machine can take (a snapshot changes nothing then; a pre-copy
     * stream may have written RAM, and the run ends).
     */
    void load(InputStream in) throws IOException;
}
