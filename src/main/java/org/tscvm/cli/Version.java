package org.tscvm.cli;

/** tscvm's version, as the pom states it. */
public final class Version {
    private Version() {
    }

    public static final String VERSION = "0.1.0";
}
