package org.tscvm.machine;

import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.tscvm.acpi.AcpiPlatform;
import org.tscvm.acpi.AcpiTables;
import org.tscvm.boot.MemoryMap;
import org.tscvm.devices.AcpiPm;
import org.tscvm.devices.ApicBus;
import org.tscvm.devices.Cmos;
import org.tscvm.devices.DeviceClock;
import org.tscvm.devices.FwCfg;
import org.tscvm.devices.I8042;
import org.tscvm.devices.IoApic;
import org.tscvm.devices.IrqLine;
import org.tscvm.devices.LocalApic;
import org.tscvm.devices.PciHost;
import org.tscvm.devices.PcTestdev;
import org.tscvm.devices.PicPair;
import org.tscvm.devices.Pit8254;
import org.tscvm.devices.PostPort;
import org.tscvm.devices.ResetControl;
import org.tscvm.devices.ShutdownPort;
import org.tscvm.devices.Uart16550;
import org.tscvm.memory.IoDevice;
import org.tscvm.memory.PortIoBus;
import org.tscvm.tsc.TscMath;
import org.tscvm.vm.CpuidModel;
import org.tscvm.vm.Mtrrs;
import org.tscvm.vm.Vcpu;
import org.tscvm.vm.Vm;

/**
 * The PC's board (platform.md sections 2-3): which device sits at which port or address, how
 * the ISA interrupt lines reach the 8259 pair and the I/O APIC, and the ACPI tables that
 * describe it all. The only place that knows the PC's layout; {@link Machine} adds the vCPUs
 * and runs them.
 *
 * <p>Interrupt wiring: ISA IRQ n drives 8259 input n and I/O APIC pin n, except IRQ 0 (the
 * PIT), which reaches the I/O APIC on pin 2 (as on QEMU/KVM; the MADT says so with an
 * override). The 8259's INTR reaches the BSP's LINT0 and I/O APIC pin 0 (ExtINT).
 */
final class PcBoard {
    // The PC's I/O ports (platform.md section 3).
    static final int PORT_PIC_MASTER = 0x20;
    static final int PORT_PIT = 0x40;
    static final int PORT_I8042_DATA = 0x60;
    static final int PORT_SYSTEM_CONTROL_B = 0x61;
    static final int PORT_I8042_COMMAND = 0x64;
    static final int PORT_CMOS = 0x70;
    static final int PORT_POST = 0x80;
    static final int PORT_PIC_SLAVE = 0xa0;
    static final int PORT_PC_TESTDEV = 0xe0;
    static final int PORT_DEBUG_EXIT = 0xf4;
    static final int DEBUG_EXIT_SIZE = 4;
    static final int PORT_COM1 = 0x3f8;
    static final int PORT_ELCR = 0x4d0;
    static final int PORT_FW_CFG = 0x510;
    /** The ACPI PM block, where QEMU's PIIX4 puts it: PM1a event 0x600, control 0x604, timer 0x608. */
    static final int PORT_ACPI_PM = 0x600;
    /** PCI configuration mechanism #1 (0xCF8 address, 0xCFC data); 0xCF9 is the reset control byte. */
    static final int PORT_PCI_CONFIG = 0xcf8;
    static final int PORT_RESET_CONTROL = 0xcf9;
    static final int PORT_PC_TESTDEV_IRQ = 0x2000;
    static final int PORT_SHUTDOWN = 0x8900;

    /** Devices, not RAM, from 3 GiB to 4 GiB (platform.md section 2). */
    static final long MMIO_HOLE_BASE = 0xc000_0000L;
    static final long MMIO_HOLE_END = 0x1_0000_0000L;
    static final long IO_APIC_BASE = 0xfec0_0000L;
    static final long PC_TESTDEV_IOMEM = 0xff00_0000L;
    /** The ACPI tables' home: the start of the BIOS area Linux scans for the RSDP (0xE0000-0xFFFFF). */
    static final long ACPI_TABLES_BASE = 0xe_0000L;
    static final long BIOS_AREA_END = 0x10_0000L;

    /** The PIT's ISA interrupt line, and the I/O APIC pin it reaches (as on QEMU/KVM). */
    static final int IRQ_PIT = 0;
    static final int PIT_GSI = 2;
    /** COM1's ISA interrupt line. */
    static final int IRQ_COM1 = 4;
    /** The SCI's ISA IRQ, as on QEMU's PIIX4. */
    static final int IRQ_SCI = 9;
    static final int ISA_IRQS = 16;
    /** The I/O APIC's ID; local APIC IDs are a separate name space (QEMU uses 0 as well). */
    static final int IO_APIC_ID = 0;

    /** What the board needs from the machine around it. */
    interface Events {
        /** The guest powered the machine off (ACPI S5 or the "Shutdown" port). */
        void powerOff(String how);

        /** The guest entered S3, suspend to RAM: the vCPUs stop until a wake event. */
        void suspend(String how);

        /** The guest pulled the reset line. */
        void reset(String how);

        /** The 8259's INTR output went high: wake whichever vCPU takes ExtINT. */
        void extIntRequested();
    }

    private final Uart16550 uart;
    private final PicPair pic;
    private final IoApic ioApic;
    private final ApicBus apicBus = new ApicBus();
    private final Pit8254 pit;
    private final Cmos cmos;
    private final FwCfg fwCfg;
    private final AcpiPm acpiPm;
    private final ResetControl resetControl;
    private final I8042 keyboardController;
    private final PciHost pciHost;
    private final ShutdownPort shutdownPort;
    /** Null without {@link MachineConfig#pcTestdev()}. */
    private final PcTestdev testdev;
    private final DeviceTime deviceTime;
    private final AcpiTables acpiTables;
    private final Vm vm;
    /** Puts each device back as it was built (a reset); the CMOS is battery-backed and keeps its state. */
    private final List<Runnable> powerOnStates = new ArrayList<>();

    PcBoard(MachineConfig config, Vm vm, OutputStream serialOut, Events events) {
        this.vm = vm;
        deviceTime = new DeviceTime(vm.clock());
        DeviceClock deviceClock = deviceTime;
        pic = new PicPair(high -> {
            if (high) {
                events.extIntRequested();
            }
        });
        ioApic = new IoApic(IO_APIC_ID, apicBus);
        uart = new Uart16550(serialOut, isaIrq(IRQ_COM1));
        pit = new Pit8254(deviceClock, isaIrq(IRQ_PIT), config.pitLostTicks());
        long epoch = Math.floorDiv(vm.clock().realtimeNanosAt(vm.clock().now()), TscMath.NANOS_PER_SECOND);
        cmos = new Cmos(deviceClock, epoch, config.ramBytes());
        fwCfg = new FwCfg(config.ramBytes(), config.smp(), config.smp());
        acpiPm = new AcpiPm(deviceClock, () -> events.powerOff("the guest entered ACPI S5 (SLP_EN in PM1a_CNT)"),
                () -> events.suspend("the guest entered ACPI S3 (SLP_EN in PM1a_CNT)"));
        resetControl = new ResetControl(() -> events.reset("port 0xcf9"));
        keyboardController = new I8042(() -> events.reset("the keyboard controller"));
        pciHost = new PciHost();
        shutdownPort = new ShutdownPort(() -> events.powerOff("the guest wrote \"Shutdown\" to port 0x8900"));
        keepPowerOnState(pic.saveState(), pic::restoreState);
        keepPowerOnState(ioApic.saveState(), ioApic::restoreState);
        keepPowerOnState(uart.saveState(), uart::restoreState);
        keepPowerOnState(pit.saveState(), pit::restoreState);
        keepPowerOnState(fwCfg.saveState(), fwCfg::restoreState);
        keepPowerOnState(acpiPm.saveState(), acpiPm::restoreState);
        keepPowerOnState(resetControl.saveState(), resetControl::restoreState);
        keepPowerOnState(keyboardController.saveState(), keyboardController::restoreState);
        keepPowerOnState(pciHost.saveState(), pciHost::restoreState);
        keepPowerOnState(shutdownPort.saveState(), shutdownPort::restoreState);

        PortIoBus io = vm.ioBus();
        io.map(PORT_PIC_MASTER, 2, pic.master());
        io.map(PORT_PIC_SLAVE, 2, pic.slave());
        io.map(PORT_ELCR, 2, pic.elcr());
        io.map(PORT_PIT, 4, pit);
        io.map(PORT_SYSTEM_CONTROL_B, 1, pit.portB());
        io.map(PORT_I8042_DATA, 1, keyboardController.data());
        io.map(PORT_I8042_COMMAND, 1, keyboardController.command());
        io.map(PORT_CMOS, 2, cmos);
        io.map(PORT_POST, 1, new PostPort());
        io.map(PORT_COM1, 8, uart);
        io.map(PORT_FW_CFG, 2, fwCfg);
        io.map(PORT_ACPI_PM, AcpiPm.LENGTH, acpiPm);
        io.map(PORT_PCI_CONFIG, 8, pciConfigWithResetControl(pciHost, resetControl));
        io.map(PORT_SHUTDOWN, 1, shutdownPort);
        io.mapExit(PORT_DEBUG_EXIT, DEBUG_EXIT_SIZE);
        vm.mmioBus().map(IO_APIC_BASE, IoApic.MMIO_SIZE, ioApic);
        testdev = config.pcTestdev() ? new PcTestdev(line -> line < ISA_IRQS ? isaIrq(line) : ioApic.pin(line)) : null;
        if (testdev != null) {
            // pc-testdev drives GSIs: 0-15 are the ISA lines, 16-23 reach the I/O APIC alone.
            keepPowerOnState(testdev.saveState(), testdev::restoreState);
            io.map(PORT_PC_TESTDEV, PcTestdev.PORTS_LENGTH, testdev.ports());
            io.map(PORT_PC_TESTDEV_IRQ, PcTestdev.IRQ_LINES, testdev.irqPorts());
            vm.mmioBus().map(PC_TESTDEV_IOMEM, PcTestdev.IOMEM_SIZE, testdev.iomem());
        }

        acpiTables = AcpiTables.build(new AcpiPlatform(config.smp(), LocalApic.DEFAULT_BASE, IO_APIC_ID, IO_APIC_BASE,
                PIT_GSI, IRQ_SCI, PORT_ACPI_PM + AcpiPm.PM1_STATUS, PORT_ACPI_PM + AcpiPm.PM1_CONTROL,
                PORT_ACPI_PM + AcpiPm.PM_TIMER, PORT_RESET_CONTROL, ResetControl.RESET_VALUE, AcpiPm.SLP_TYP_S3, AcpiPm.SLP_TYP_S5,
                Cmos.CENTURY), ACPI_TABLES_BASE);
        loadAcpiTables();
    }

    private <S> void keepPowerOnState(S state, Consumer<S> restore) {
        powerOnStates.add(() -> restore.accept(state));
    }

    private void loadAcpiTables() {
        byte[] image = acpiTables.image();
        vm.memory().load(acpiTables.base(), image, 0, image.length);
    }

    /** The state of every device on the board (the vCPUs' local APICs aside), with every vCPU stopped. */
    BoardState saveState() {
        return new BoardState(deviceTime.nanos(), pit.saveState(), uart.saveState(), cmos.saveState(), fwCfg.saveState(),
                acpiPm.saveState(), keyboardController.saveState(), pciHost.saveState(), resetControl.saveState(),
                shutdownPort.saveState(), testdev == null ? null : testdev.saveState(), pic.saveState(), ioApic.saveState());
    }

    /**
     * Loads {@code s}, with every vCPU stopped; the device time continues from
     * {@code deviceNanos}. Order: the time base first (the PIT resumes against it); then the
     * devices that raise interrupts, which may raise their lines again; then the 8259 pair and the
     * I/O APIC, whose saved request and line state overwrite whatever those raises left there
     * (so nothing is requested twice). The local APICs follow, from the machine.
     *
     * @throws IllegalArgumentException if pc-testdev is in the state but not on this board, or the
     *         other way round
     */
    void restoreState(BoardState s, long deviceNanos) {
        if ((s.pcTestdev() == null) != (testdev == null)) {
            throw new IllegalArgumentException("the saved board " + (testdev == null ? "has" : "has no")
                    + " pc-testdev and this one " + (testdev == null ? "has not" : "has"));
        }
        deviceTime.continueFrom(deviceNanos);
        pit.restoreState(s.pit());
        uart.restoreState(s.uart());
        cmos.restoreState(s.cmos());
        fwCfg.restoreState(s.fwCfg());
        acpiPm.restoreState(s.acpiPm());
        keyboardController.restoreState(s.i8042());
        pciHost.restoreState(s.pciHost());
        resetControl.restoreState(s.resetControl());
        shutdownPort.restoreState(s.shutdownPort());
        if (testdev != null) {
            testdev.restoreState(s.pcTestdev());
        }
        pic.restoreState(s.pic());
        ioApic.restoreState(s.ioApic());
    }

    /** The time the devices see. */
    /**
     * ACPI S3: the device time of the event that ends the sleep (the RTC alarm, when PM1 enables
     * it as a wake event), or Long.MAX_VALUE when nothing can.
     */
    long s3WakeNanos() {
        return acpiPm.rtcWakeEnabled() ? cmos.nextAlarmNanos(deviceTime.nanos()) : Long.MAX_VALUE;
    }

    /** The RTC alarm ended an S3 sleep: its flags in CMOS register C, WAK_STS and RTC_STS in PM1. */
    void s3Wake() {
        cmos.alarm();
        acpiPm.wake();
    }

    /** FACS.firmware_waking_vector as the guest left it: where a waking BSP starts, in real mode. */
    long wakingVector() {
        return vm.memory().read(acpiTables.facsAddress() + 12, 4);
    }

    DeviceTime deviceTime() {
        return deviceTime;
    }

    /** A machine reset: every device as at power-on but the CMOS, and the ACPI tables in RAM again. */
    void powerOn() {
        for (Runnable restore : powerOnStates) {
            restore.run();
        }
        loadAcpiTables();
    }

    /** ISA IRQ {@code irq}: the 8259 input and the I/O APIC pin it drives together (IRQ 0 on pin 2). */
    IrqLine isaIrq(int irq) {
        IrqLine picInput = pic.irq(irq);
        IrqLine ioApicPin = ioApic.pin(irq == IRQ_PIT ? PIT_GSI : irq);
        return high -> {
            picInput.setLevel(high);
            ioApicPin.setLevel(high);
        };
    }

    /** 0xCF8-0xCFF: a byte access to 0xCF9 is the reset control register, everything else PCI. */
    private static IoDevice pciConfigWithResetControl(PciHost pci, ResetControl resetControl) {
        int resetOffset = PORT_RESET_CONTROL - PORT_PCI_CONFIG;
        return new IoDevice() {
            @Override
            public int read(int offset, int size) {
                return offset == resetOffset && size == 1 ? resetControl.read(0, 1) : pci.read(offset, size);
            }

            @Override
            public void write(int offset, int size, int value) {
                if (offset == resetOffset && size == 1) {
                    resetControl.write(0, 1, value);
                } else {
                    pci.write(offset, size, value);
                }
            }
        };
    }

    /**
     * The memory types firmware leaves on every processor (tscvm boots kernels without one):
     * MTRRs on with write-back by default, the fixed ranges write-back below 640 KiB,
     * uncacheable for the VGA window and write-protected for the BIOS area, and one variable
     * range making the 32-bit MMIO hole [3 GiB, 4 GiB) uncacheable. Without them a guest that
     * sees CPUID.MTRR finds MTRRs disabled, and Linux then skips PAT.
     */
    void programMtrrs(Vcpu vcpu) {
        long writeBack = 0x0606_0606_0606_0606L;
        vcpu.setMsr(Mtrrs.FIX_64K_00000, writeBack);
        vcpu.setMsr(Mtrrs.FIX_16K_80000, writeBack);
        vcpu.setMsr(Mtrrs.FIX_16K_A0000, 0); // uncacheable
        for (int msr = Mtrrs.FIX_4K_C0000; msr <= Mtrrs.FIX_4K_F8000; msr++) {
            vcpu.setMsr(msr, 0x0505_0505_0505_0505L);
        }
        long holeSize = MMIO_HOLE_END - MMIO_HOLE_BASE;
        vcpu.setMsr(Mtrrs.PHYS_BASE_0, MMIO_HOLE_BASE | Mtrrs.UNCACHEABLE);
        vcpu.setMsr(Mtrrs.PHYS_BASE_0 + 1,
                (-holeSize & ((1L << CpuidModel.PHYS_ADDR_BITS) - 1)) | Mtrrs.MASK_VALID);
        vcpu.setMsr(Mtrrs.DEF_TYPE, Mtrrs.DEF_TYPE_ENABLE | Mtrrs.DEF_TYPE_FIXED_ENABLE | Mtrrs.WRITE_BACK);
    }

    /** The wire the local APICs join; the I/O APIC is on it already. */
    ApicBus apicBus() {
        return apicBus;
    }

    /** Every local APIC may take ExtINT (the BSP's LINT0 at reset; others if the guest routes it). */
    void connectApics(List<LocalApic> apics) {
        for (LocalApic apic : apics) {
            apic.setExtIntSource(pic);
        }
    }

    Uart16550 uart() {
        return uart;
    }

    Pit8254 pit() {
        return pit;
    }

    IoApic ioApic() {
        return ioApic;
    }

    /** The RSDP's physical address, which Linux's loaders pass in boot_params or the PVH start info. */
    long rsdpAddress() {
        return acpiTables.rsdpAddress();
    }

    /**
     * Guest-physical ranges that are not usable RAM, for the e820 map a loader builds: the BIOS
     * area with the ACPI tables.
     */
    List<MemoryMap.Entry> reservedRanges() {
        return List.of(new MemoryMap.Entry(ACPI_TABLES_BASE, BIOS_AREA_END - ACPI_TABLES_BASE, MemoryMap.RESERVED));
    }
}
