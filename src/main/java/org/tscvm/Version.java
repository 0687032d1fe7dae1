package org.tscvm;

/** tscvm's version, as the pom states it: what --version prints and what snapshots and replay logs record. */
public final class Version {
    private Version() {
    }

    public static final String VERSION = "0.1.0";
}
