package org.tscvm.replay;

import java.io.IOException;
import java.io.OutputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.tscvm.machine.Machine;
import org.tscvm.snapshot.MachineSnapshot;
import org.tscvm.snapshot.MachineState;
import org.tscvm.snapshot.SavedTime;

/** SHA-256 digests a replay compares: of the whole machine state, of the serial output. */
public final class StateDigest {
    private StateDigest() {
    }

    /**
     * The SHA-256 of the machine's snapshot encoding (every vCPU, the board, RAM, the clock),
     * without the snapshot's wall-clock save time, the one field a replay cannot repeat.
     */
    public static String of(Machine machine) {
        MachineState s = MachineSnapshot.save(machine);
        SavedTime t = s.time();
        MachineState timeless = new MachineState(s.tscvmVersion(), s.config(),
                new SavedTime(0, t.hostKhz(), t.hostTsc(), t.hostTscAdjust(), t.deterministic(), t.tsc()),
                s.board(), s.vcpus(), s.ram());
        MessageDigest sha = sha256();
        try (DigestOutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), sha)) {
            MachineSnapshot.write(timeless, out);
        } catch (IOException e) {
            throw new IllegalStateException("a null stream does not fail", e);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** An output stream that passes bytes on and keeps their SHA-256 (the guest's serial output). */
    public static final class Hashing extends OutputStream {
        private final OutputStream out;
        private final MessageDigest sha = sha256();

        public Hashing(OutputStream out) {
            this.out = out;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            sha.update((byte) b);
            out.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            sha.update(b, off, len);
            out.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }

        /** The hex SHA-256 of every byte written so far. */
        public synchronized String hex() {
            try {
                return HexFormat.of().formatHex(((MessageDigest) sha.clone()).digest());
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("SHA-256 digests clone", e);
            }
        }
    }
}
