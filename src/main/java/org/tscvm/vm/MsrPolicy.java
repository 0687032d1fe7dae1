package org.tscvm.vm;

/**
 * What a guest access to IA32_TSC_ADJUST (0x3b) does when CPUID.(7,0):EBX[1] is clear
 * (tsc-semantics A4). Unknown MSRs raise #GP for the guest under every policy.
 */
public enum MsrPolicy {
    /** KVM's behaviour (R6, R7): the write is silently dropped, a read returns the stored value. */
    KVM,
    /** The SDM's rule for an unsupported MSR: the guest's RDMSR and WRMSR of 0x3b raise #GP(0). */
    STRICT
}
