package org.tscvm.vm;

import java.util.Arrays;
import java.util.OptionalLong;

/**
 * MSR index/value pairs (KVM_GET_MSRS over {@link Vcpu#msrIndexList()}), in the order they
 * were given. An index appears at most once.
 *
 * <pre>{@code
 * VcpuMsrs msrs = vcpu.saveState().msrs();
 * long pat = msrs.value(Msr.IA32_PAT).orElseThrow();
 * }</pre>
 */
public record VcpuMsrs(int[] indexes, long[] values) {
    /** @throws IllegalArgumentException if the arrays differ in length or an index repeats */
    public VcpuMsrs {
        if (indexes.length != values.length) {
            throw new IllegalArgumentException(indexes.length + " MSR indexes but " + values.length + " values");
        }
        indexes = indexes.clone();
        values = values.clone();
        int[] sorted = indexes.clone();
        Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1]) {
                throw new IllegalArgumentException(String.format("MSR 0x%x is given twice", sorted[i]));
            }
        }
    }

    @Override
    public int[] indexes() {
        return indexes.clone();
    }

    @Override
    public long[] values() {
        return values.clone();
    }

    public int size() {
        return indexes.length;
    }

    /** The value of MSR {@code index}, if present. */
    public OptionalLong value(int index) {
        for (int i = 0; i < indexes.length; i++) {
            if (indexes[i] == index) {
                return OptionalLong.of(values[i]);
            }
        }
        return OptionalLong.empty();
    }

    /** The same pairs with MSR {@code index} set to {@code value} (added at the end if absent). */
    public VcpuMsrs with(int index, long value) {
        for (int i = 0; i < indexes.length; i++) {
            if (indexes[i] == index) {
                long[] v = values.clone();
                v[i] = value;
                return new VcpuMsrs(indexes, v);
            }
        }
        int[] ix = Arrays.copyOf(indexes, indexes.length + 1);
        long[] v = Arrays.copyOf(values, values.length + 1);
        ix[indexes.length] = index;
        v[values.length] = value;
        return new VcpuMsrs(ix, v);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VcpuMsrs m && Arrays.equals(indexes, m.indexes) && Arrays.equals(values, m.values);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(indexes) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("VcpuMsrs[");
        for (int i = 0; i < indexes.length; i++) {
            b.append(i == 0 ? "" : " ").append(String.format("%x=%x", indexes[i], values[i]));
        }
        return b.append(']').toString();
    }
}
