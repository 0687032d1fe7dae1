package org.tscvm.boot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.tscvm.TscvmException;

/** A kernel or initrd file that is missing or unreadable. */
public final class BootFileException extends TscvmException {
    public BootFileException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Reads {@code file}; {@code what} says what it is for ("kernel", "initrd") in the message. */
    public static byte[] read(Path file, String what) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            // QEMU's wording ("could not open kernel"), which kvm-unit-tests' runner looks for.
            throw new BootFileException("could not open " + what + " file " + file + ": no such file", e);
        } catch (IOException | OutOfMemoryError e) {
            throw new BootFileException("could not load " + what + " file " + file + ": " + e, e);
        }
    }
}
