package org.tscvm.vm;

/**
 * Who is accessing an MSR (tsc-semantics A3): guest code through RDMSR/WRMSR, or the host
 * through the Java API, the command line or snapshot restore. Rules R4 and R6-R9 differ by it.
 */
public enum MsrOrigin {
    GUEST,
    HOST
}
