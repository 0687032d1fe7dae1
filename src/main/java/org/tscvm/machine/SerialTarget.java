package org.tscvm.machine;

import java.io.OutputStream;
import java.nio.file.Path;

/** Where COM1's output goes (the {@code -serial} option). */
public sealed interface SerialTarget {
    /** The process's standard output; standard input feeds the UART's receiver. */
    record Stdio() implements SerialTarget {
    }

    /** A file, created or truncated. */
    record ToFile(Path path) implements SerialTarget {
    }

    /** Nowhere: the bytes are dropped. */
    record None() implements SerialTarget {
    }

    /** A caller's stream (tests, the API); no input. */
    record ToStream(OutputStream out) implements SerialTarget {
    }

    /** Parses {@code stdio}, {@code file:PATH} or {@code none}. */
    static SerialTarget parse(String text) {
        if (text.equals("stdio")) {
            return new Stdio();
        }
        if (text.equals("none") || text.equals("null")) {
            return new None();
        }
        if (text.startsWith("file:") && text.length() > 5) {
            return new ToFile(Path.of(text.substring(5)));
        }
        throw new MachineConfigException("-serial " + text + " is not one of stdio, file:PATH, none");
    }
}
