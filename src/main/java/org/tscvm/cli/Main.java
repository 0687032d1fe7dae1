package org.tscvm.cli;

/** Entry point (SKELETON; the command line issue fills it). */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.out.println("tscvm skeleton");
    }
}
