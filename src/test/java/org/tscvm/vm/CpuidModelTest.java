package org.tscvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.tscvm.TscvmException;
import org.tscvm.vm.CpuidModel.Feature;

class CpuidModelTest {
    private final int[] regs = new int[4];

    private static String text(int... words) {
        ByteBuffer buffer = ByteBuffer.allocate(words.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int w : words) {
            buffer.putInt(w);
        }
        return new String(buffer.array(), StandardCharsets.US_ASCII);
    }

    private void query(CpuidModel model, int leaf, int subleaf) {
        model.query(leaf, subleaf, 3, 4, 8, 1_234_567, regs);
    }

    @Test
    void vendorIsGenuineIntelAndTheHypervisorLeavesAreTscvmsOwnA5() {
        CpuidModel model = CpuidModel.tscvm();
        query(model, 0, 0);
        assertThat(regs[0]).isEqualTo(CpuidModel.MAX_BASIC_LEAF);
        assertThat(text(regs[1], regs[3], regs[2])).isEqualTo("GenuineIntel");
        query(model, 0x40000000, 0);
        assertThat(regs[0]).isEqualTo(0x40000010);
        assertThat(text(regs[1], regs[2], regs[3])).isEqualTo("TscVMTscVMTs");
        query(model, 0x40000010, 0);
        assertThat(regs[0]).isEqualTo(1_234_567);
        query(model, 0x80000002, 0);
        assertThat(text(regs)).startsWith("tscvm virtual CP");
    }

    @Test
    void vendorAuthenticAmdNamesAmdInLeaves0And80000000AndRepeatsLeaf1EdxBitsIn80000001() {
        CpuidModel model = CpuidModel.parse("tscvm,vendor=AuthenticAMD");
        assertThat(model.isAmd()).isTrue();
        assertThat(model.vendor()).isEqualTo("AuthenticAMD");
        assertThat(model.spec()).isEqualTo("tscvm,vendor=AuthenticAMD");
        query(model, 0, 0);
        assertThat(text(regs[1], regs[3], regs[2])).isEqualTo("AuthenticAMD");
        query(model, 0x80000000, 0);
        assertThat(regs[0]).isEqualTo(CpuidModel.MAX_EXTENDED_LEAF);
        assertThat(text(regs[1], regs[3], regs[2])).isEqualTo("AuthenticAMD");
        query(model, 1, 0);
        int leaf1Edx = regs[3];
        query(model, 0x80000001, 0);
        assertThat(regs[0]).isEqualTo(CpuidModel.SIGNATURE);
        // fpu pse tsc msr pae cx8 apic (0, 3-6, 8, 9), mtrr pge cmov pat (12, 13, 15, 16), mmx fxsr (23, 24)
        assertThat(regs[3]).isEqualTo((leaf1Edx & 0x0183F3FF) | (1 << 11) | (1 << 20) | (1 << 27) | (1 << 29));
        assertThat(regs[3] & (1 << 25)).as("sse is not repeated").isZero();
        assertThat(regs[2]).isEqualTo(1 << 5);
        assertThat(model).isNotEqualTo(CpuidModel.tscvm());
        assertThat(model.describe()).contains("vendor AuthenticAMD");
    }

    @Test
    void vendorGenuineIntelIsTheDefaultAndOtherVendorsAreRefused() {
        CpuidModel model = CpuidModel.parse("max,vendor=GenuineIntel");
        assertThat(model.isAmd()).isFalse();
        assertThat(model).isEqualTo(CpuidModel.named("max"));
        query(model, 0x80000000, 0);
        assertThat(regs[1]).isZero();
        assertThat(CpuidModel.tscvm().vendor()).isEqualTo("GenuineIntel");
        assertThatThrownBy(() -> CpuidModel.parse("tscvm,vendor=CyrixInstead"))
                .isInstanceOf(TscvmException.class).hasMessageContaining("unknown CPU vendor");
    }

    @Test
    void defaultModelAdvertisesThePlatformFeatureBits() {
        CpuidModel model = CpuidModel.tscvm();
        query(model, 1, 0);
        int edx = regs[3];
        int ecx = regs[2];
        assertThat(regs[1] >>> 24).as("APIC id").isEqualTo(3);
        // fpu, fxsr, sse and sse2 (0, 24, 25, 26): x86-64 requires them, and SSE/SSE2 run; mmx (23) runs
        for (int bit : new int[] {0, 3, 4, 5, 6, 8, 9, 11, 13, 15, 16, 23, 24, 25, 26}) {
            assertThat(edx & (1 << bit)).as("1:EDX[%d]", bit).isNotZero();
        }
        // sse3 (0), ssse3 (9), cx16 (13), sse4.1 (19), sse4.2 (20), x2apic, movbe (22), popcnt (23),
        // tsc-deadline, hypervisor
        assertThat(ecx).isEqualTo(1 | (1 << 9) | (1 << 13) | (1 << 19) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 23)
                | (1 << 24) | (1 << 31));
        query(model, 7, 0);
        assertThat(regs[1]).isEqualTo(1 << 1);
        assertThat(regs[2]).isEqualTo(1 << 22);
        query(model, 7, 1);
        assertThat(regs).containsOnly(0);
        query(model, 0x80000001, 0);
        assertThat(regs[3]).isEqualTo((1 << 11) | (1 << 20) | (1 << 27) | (1 << 29));
        assertThat(regs[2]).as("abm (lzcnt)").isEqualTo(1 << 5);
        query(model, 0x80000007, 0);
        assertThat(regs[3]).isEqualTo(1 << 8);
        query(model, 0xA, 0);
        assertThat(regs).containsOnly(0);
        query(model, 0xB, 1);
        assertThat(regs[3]).isEqualTo(3);
        assertThat(regs[1]).isEqualTo(4);
        assertThat(regs[0]).as("core-level shift: every vCPU in package 0").isEqualTo(8);
    }

    @Test
    void cetIsInMaxOnlyAsQemusCetSsAndCetIbt() {
        query(CpuidModel.named("max"), 7, 0);
        assertThat(regs[2] & (1 << 7)).as("7.0:ECX[7] CET_SS").isNotZero();
        assertThat(regs[3] & (1 << 20)).as("7.0:EDX[20] CET_IBT").isNotZero();
        query(CpuidModel.parse("max,-cet-ss"), 7, 0);
        assertThat(regs[2] & (1 << 7)).isZero();
        assertThat(regs[3] & (1 << 20)).isNotZero();
        query(CpuidModel.tscvm(), 7, 0);
        assertThat(regs[2] & (1 << 7)).isZero();
        assertThat(regs[3] & (1 << 20)).isZero();
    }

    @Test
    void tscFreqTellsTheTscRateInLeaves15And16AsLinuxReadsThem() {
        CpuidModel model = CpuidModel.parse("tscvm,+tsc-freq");
        model.query(0, 0, 0, 1, 8, 2_500_000, regs);
        assertThat(regs[0]).isEqualTo(0x16);
        model.query(0x15, 0, 0, 1, 8, 2_500_000, regs);
        // Linux's native_calibrate_tsc: crystal kHz * EBX / EAX in 32-bit arithmetic.
        long crystalKhz = (regs[2] & 0xffffffffL) / 1000;
        assertThat(crystalKhz).isEqualTo(1_000_000);
        assertThat((int) (crystalKhz * regs[1]) / regs[0]).isEqualTo(2_500_000);
        assertThat(crystalKhz * regs[1]).isLessThanOrEqualTo(0xffffffffL);
        model.query(0x16, 0, 0, 1, 8, 2_500_000, regs);
        assertThat(regs).startsWith(2500, 2500, 1000);

        // A rate whose reduced ratio would overflow Linux's product: no leaf 0x15, the guest calibrates.
        model.query(0x15, 0, 0, 1, 8, 2_596_164, regs);
        assertThat(regs).containsOnly(0);
        CpuidModel.tscvm().query(0x15, 0, 0, 1, 8, 2_500_000, regs);
        assertThat(regs).containsOnly(0);
        CpuidModel.tscvm().query(0, 0, 0, 1, 8, 2_500_000, regs);
        assertThat(regs[0]).isEqualTo(0xB);
    }

    @Test
    void oneVcpuPerPackageGivesEachApicIdItsOwnPackage() {
        // -smp 4,sockets=4: leaf 0xB says one core per package, no core bits; APIC id 3 is package 3.
        CpuidModel.tscvm().query(0xB, 1, 3, 1, 0, 1_234_567, regs);
        assertThat(regs[0]).isZero();
        assertThat(regs[1]).isEqualTo(1);
        assertThat(regs[2]).isEqualTo((2 << 8) | 1);
        assertThat(regs[3]).isEqualTo(3);
    }

    @Test
    void editsSwitchFeaturesOnAndOffByName() {
        CpuidModel model = CpuidModel.parse("tscvm,-tsc-adjust,+fxsr");
        assertThat(model.has(Feature.TSC_ADJUST)).isFalse();
        assertThat(model.has(Feature.FXSR)).isTrue();
        assertThat(model.spec()).isEqualTo("tscvm,-tsc-adjust,+fxsr");
        query(model, 7, 0);
        assertThat(regs[1]).isZero();
        assertThat(CpuidModel.tscvm().has(Feature.TSC_ADJUST)).isTrue(); // immutable
        assertThat(CpuidModel.parse("tscvm,-rdpid,+rdpid")).isEqualTo(CpuidModel.tscvm());
    }

    @Test
    void maxReportsSmepSmapAndFsgsbaseInLeaf7EbxWhileTscvmLeavesThemOff() {
        query(CpuidModel.named("max"), 7, 0);
        assertThat(regs[1] & (1 | 1 << 7 | 1 << 20)).isEqualTo(1 | 1 << 7 | 1 << 20);
        query(CpuidModel.tscvm(), 7, 0);
        assertThat(regs[1] & (1 | 1 << 7 | 1 << 20)).isZero();
        query(CpuidModel.parse("tscvm,+smap"), 7, 0);
        assertThat(regs[1] & (1 | 1 << 7 | 1 << 20)).isEqualTo(1 << 20);
    }

    @Test
    void maxReportsPkuAndPksButNeverOspkeWhichTheCpuSetsFromCr4Pke() {
        query(CpuidModel.named("max"), 7, 0);
        assertThat(regs[2] & (1 << 3 | 1 << 4 | 1 << 31)).isEqualTo(1 << 3 | 1 << 31);
        query(CpuidModel.tscvm(), 7, 0);
        assertThat(regs[2] & (1 << 3 | 1 << 4 | 1 << 31)).isZero();
    }

    @Test
    void clflushGivesLeaf1EdxBit19AndTheLineSizeInEbxBits15To8() {
        query(CpuidModel.named("max"), 1, 0);
        assertThat(regs[3] & 1 << 19).isNotZero();
        assertThat((regs[1] >>> 8) & 0xff).as("64-byte line in 8-byte units").isEqualTo(8);
        assertThat(regs[1] >>> 24).as("APIC id kept").isEqualTo(3);
        query(CpuidModel.tscvm(), 1, 0);
        assertThat(regs[3] & 1 << 19).isZero();
        assertThat(regs[1] & 0xff00).isZero();
    }

    @Test
    void umipIsLeaf7EcxBit2InMaxOrOnRequest() {
        query(CpuidModel.named("max"), 7, 0);
        assertThat(regs[2] & 1 << 2).isNotZero();
        query(CpuidModel.tscvm(), 7, 0);
        assertThat(regs[2] & 1 << 2).isZero();
        query(CpuidModel.parse("tscvm,+umip"), 7, 0);
        assertThat(regs[2] & 1 << 2).isNotZero();
    }

    @Test
    void xsaveSubleaf1ReportsTheCompactionExtensionsAndTheCompactedSize() {
        query(CpuidModel.named("max"), 0xd, 1);
        assertThat(regs[0]).as("XSAVEOPT, XSAVEC, XGETBV1, XSAVES").isEqualTo(0xf);
        assertThat(regs[1]).as("compacted size for XCR0 | IA32_XSS").isEqualTo(576);
        assertThat(regs[2] | regs[3]).as("no IA32_XSS components").isZero();
        query(CpuidModel.parse("max,-xsaves,-xgetbv1"), 0xd, 1);
        assertThat(regs[0]).isEqualTo(3);
        query(CpuidModel.parse("max,-xsavec,-xsaves"), 0xd, 1);
        assertThat(regs[0]).isEqualTo(1 | 4);
        assertThat(regs[1]).as("no compacted format").isZero();
        query(CpuidModel.parse("max,-xsave"), 0xd, 1);
        assertThat(regs[0]).as("no leaf 0xD without XSAVE").isZero();
    }

    @Test
    void maxAddsTheFeaturesTscvmLeavesOffButNotKvmsParavirtualOnes() {
        CpuidModel max = CpuidModel.named("max");
        for (Feature f : Feature.values()) {
            boolean kvmParavirt = f == Feature.KVMCLOCK || f == Feature.KVMCLOCK_STABLE_BIT; // QEMU's TCG max has none
            assertThat(max.has(f)).as(f.featureName()).isEqualTo(!kvmParavirt);
        }
        assertThat(CpuidModel.tscvm().has(Feature.XSAVE)).as("max only").isFalse();
        assertThat(CpuidModel.tscvm().has(Feature.CLFLUSHOPT) || CpuidModel.tscvm().has(Feature.CLWB)).as("max only").isFalse();
        for (Feature f : new Feature[] {Feature.CLFSH, Feature.UMIP, Feature.XSAVEC, Feature.XGETBV1, Feature.XSAVES}) {
            assertThat(CpuidModel.tscvm().has(f)).as(f.featureName() + ": max only").isFalse();
        }
        assertThat(CpuidModel.tscvm().has(Feature.SSE2)).as("x86-64 requires it").isTrue();
        assertThat(CpuidModel.tscvm().has(Feature.XSAVE)).isFalse();
    }

    @Test
    void unknownNamesAreRefusedWithTheValidOnes() {
        assertThatThrownBy(() -> CpuidModel.parse("tscvm,+avx512")).isInstanceOf(TscvmException.class)
                .hasMessageContaining("avx512").hasMessageContaining("tsc-adjust").hasMessageContaining("rdpid");
        assertThatThrownBy(() -> CpuidModel.parse("host")).isInstanceOf(TscvmException.class)
                .hasMessageContaining("'host'").hasMessageContaining("tscvm, max");
        assertThatThrownBy(() -> CpuidModel.parse("tscvm,rdpid")).isInstanceOf(TscvmException.class)
                .hasMessageContaining("+feature or -feature");
    }

    @Test
    void describeListsEveryFeatureWithItsStateAndPlace() {
        String text = CpuidModel.parse("tscvm,-tsc-adjust").describe();
        assertThat(text).contains("CPU model tscvm,-tsc-adjust", "GenuineIntel", "TscVMTscVMTs",
                "- tsc-adjust", "7.0:EBX[1]", "+ rdtscp", "0x80000001:EDX[27]", "+ sse2");
    }

    @Test
    void kvmclockShowsKvmsSignatureAndItsFeatureBitsR20() {
        CpuidModel model = CpuidModel.parse("tscvm,+kvmclock");
        query(model, CpuidModel.HYPERVISOR_BASE_LEAF, 0);
        assertThat(regs[0]).isEqualTo(CpuidModel.HYPERVISOR_TIMING_LEAF); // the TSC kHz leaf stays (A5)
        byte[] signature = new byte[12];
        for (int i = 0; i < 12; i++) {
            signature[i] = (byte) (regs[1 + i / 4] >>> (8 * (i % 4)));
        }
        assertThat(new String(signature, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("KVMKVMKVM\0\0\0");
        query(model, CpuidModel.KVM_FEATURES_LEAF, 0);
        assertThat(regs[0]).isEqualTo(1 << 3 | 1); // CLOCKSOURCE2 and CLOCKSOURCE, as QEMU's kvmclock
        assertThat(regs[3]).isZero();
        query(model.with(Feature.KVMCLOCK_STABLE_BIT, true), CpuidModel.KVM_FEATURES_LEAF, 0);
        assertThat(regs[0]).isEqualTo(1 << 24 | 1 << 3 | 1);
        // The default model: tscvm's own signature and no KVM feature leaf.
        query(CpuidModel.tscvm(), CpuidModel.HYPERVISOR_BASE_LEAF, 0);
        assertThat(regs[1]).isNotEqualTo(0x4b4d564b);
        query(CpuidModel.tscvm(), CpuidModel.KVM_FEATURES_LEAF, 0);
        assertThat(regs[0]).isZero();
    }
}
