package org.tscvm.tsc;

/**
 * One VM's TSC synchronisation state (tsc-semantics R10-R12, R17; KVM's tsc_write_lock
 * section): the last write, the current generation and how many vCPUs matched it. Methods
 * are synchronised, as the lock is VM-wide. Host time comes in as a host TSC reading and the
 * monotonic nanoseconds at that reading ({@link HostClock#nanosAt}).
 *
 * <p>tscvm's host clock is one counter shared by every vCPU, i.e. KVM's "stable host TSC", and
 * R10 step 3 takes the generation offset. A VM configured with an unstable host TSC (or one
 * whose host TSC went backwards, R25) takes KVM's other branch: the write is caught up by the
 * elapsed time instead.
 */
public final class TscSync {
    /** Read without the lock at every vCPU load; only ever set. */
    private volatile boolean hostTscUnstable;
    private boolean userSetTsc;
    private long lastNanos;
    private long lastWrite;
    private long lastKhz;
    private long lastOffset;
    private long generation;
    private long generationNanos;
    private long generationWrite;
    private long generationOffset;
    private int matchedVcpus;

    /**
     * R10, kvm_synchronize_tsc: a host write of MSR 0x10 ({@code hasUserValue}, R9) or vCPU
     * post-create (no user value, data 0, R12). A write of 0, or (once userspace has written
     * the TSC) a value within one second of guest cycles of the extrapolated last write, at
     * the same frequency as the last write, takes the current generation's offset instead of
     * the requested one.
     */
    public synchronized void synchronize(TscState vcpu, boolean hasUserValue, long userValue,
                                         long hostTsc, long hostNanos) {
        long data = hasUserValue ? userValue : 0;
        long offset = vcpu.l1OffsetFor(data, hostTsc);
        long elapsedNanos = hostNanos - lastNanos;
        long khz = vcpu.virtualKhz();
        boolean synchronizing = false;
        if (khz != 0) {
            if (data == 0) {
                synchronizing = true;
            } else if (userSetTsc) {
                long expected = lastWrite + vcpu.nanosToCycles(elapsedNanos);
                long oneSecond = khz * 1000;
                synchronizing = Long.compareUnsigned(data, expected + oneSecond) < 0
                        && Long.compareUnsigned(data + oneSecond, expected) > 0;
            }
        }
        boolean matched = false;
        if (synchronizing && khz == lastKhz) {
            if (!hostTscUnstable) {
                offset = generationOffset;
            } else {
                data += vcpu.nanosToCycles(elapsedNanos); // kvm_check_tsc_unstable(): catch up by the time elapsed
                offset = vcpu.l1OffsetFor(data, hostTsc);
            }
            matched = true;
        }
        commit(vcpu, offset, data, hostNanos, matched, hasUserValue);
    }

    /**
     * R17, KVM_VCPU_TSC_OFFSET SET: the offset is applied exactly; only the bookkeeping
     * depends on whether it matches the last write at the same frequency.
     */
    public synchronized void setOffset(TscState vcpu, long offset, long hostTsc, long hostNanos) {
        long khz = vcpu.virtualKhz();
        boolean matched = khz != 0 && lastKhz == khz && lastOffset == offset;
        long guestTsc = TscMath.scale(hostTsc, vcpu.l1Ratio()) + offset;
        commit(vcpu, offset, guestTsc, hostNanos, matched, true);
    }

    /** __kvm_synchronize_tsc (R10 step 4). */
    private void commit(TscState vcpu, long offset, long guestTsc, long hostNanos, boolean matched,
                        boolean userSet) {
        if (userSet) {
            userSetTsc = true;
        }
        lastNanos = hostNanos;
        lastWrite = guestTsc;
        lastKhz = vcpu.virtualKhz();
        lastOffset = offset;
        vcpu.writeL1Offset(offset);
        if (!matched) {
            generation++;
            generationNanos = hostNanos;
            generationWrite = guestTsc;
            generationOffset = offset;
            matchedVcpus = 0;
        } else if (vcpu.generation() != generation) {
            matchedVcpus++;
        }
        vcpu.recordSynchronization(generation, generationNanos, generationWrite, guestTsc);
    }

    /**
     * Whether the host TSC counts as unstable (KVM's check_tsc_unstable()): set from the VM's
     * configuration, or once a vCPU saw the host TSC go backwards (R25). Never cleared, as
     * mark_tsc_unstable is for good.
     */
    public boolean hostTscUnstable() {
        return hostTscUnstable;
    }

    public void markHostTscUnstable() {
        hostTscUnstable = true;
    }

    /** The current generation (cur_tsc_generation); the first synchronisation makes it 1. */
    public synchronized long generation() {
        return generation;
    }

    /** nr_vcpus_matched_tsc: vCPUs that joined the current generation after the one that opened it. */
    public synchronized int matchedVcpus() {
        return matchedVcpus;
    }

    /** KVM's master-clock condition (kvm_track_tsc_matching): every online vCPU is in one generation. */
    public synchronized boolean allMatched(int onlineVcpus) {
        return matchedVcpus + 1 == onlineVcpus;
    }

    /** Whether userspace has written the TSC on this VM (user_set_tsc, R11 (c)). */
    public synchronized boolean userSetTsc() {
        return userSetTsc;
    }

    public synchronized long generationOffset() {
        return generationOffset;
    }

    public synchronized long generationNanos() {
        return generationNanos;
    }

    public synchronized long generationWrite() {
        return generationWrite;
    }

    public synchronized long lastWrite() {
        return lastWrite;
    }

    public synchronized long lastKhz() {
        return lastKhz;
    }
}
