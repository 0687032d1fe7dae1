package org.tscvm.acpi;

/**
 * What the tables describe: the processors, the interrupt controllers and the fixed ACPI
 * hardware, with the addresses and ports the machine put them at.
 *
 * @param cpus             vCPUs; APIC ID and ACPI processor UID of vCPU i are both i
 * @param localApicAddress the local APICs' MMIO base (MADT)
 * @param ioApicId         the I/O APIC's ID
 * @param ioApicAddress    the I/O APIC's MMIO base; its pins are GSIs 0-23
 * @param timerGsi         the GSI the PIT's ISA IRQ 0 reaches (an override in the MADT when not 0)
 * @param sciIrq           the ISA IRQ of the SCI, level-triggered active-high (an override in the MADT)
 * @param pm1aEventPort    PM1a_EVT_BLK: status, then enable (4 bytes)
 * @param pm1aControlPort  PM1a_CNT_BLK (2 bytes)
 * @param pmTimerPort      PM_TMR_BLK (4 bytes, a 32-bit counter: TMR_VAL_EXT)
 * @param resetPort        the I/O port of RESET_REG (one byte)
 * @param resetValue       what to write there to reset
 * @param s3SleepType      SLP_TYP for suspend to RAM, the DSDT's \_S3
 * @param s5SleepType      SLP_TYP for soft-off, the DSDT's \_S5
 * @param rtcCenturyIndex  the CMOS index of the century byte (FADT CENTURY), 0 for none
 */
public record AcpiPlatform(int cpus, long localApicAddress, int ioApicId, long ioApicAddress, int timerGsi, int sciIrq,
                           int pm1aEventPort, int pm1aControlPort, int pmTimerPort, int resetPort,
                           int resetValue, int s3SleepType, int s5SleepType, int rtcCenturyIndex) {
    public AcpiPlatform {
        if (cpus < 1 || cpus > 255) {
            throw new IllegalArgumentException("an xAPIC MADT describes 1..255 processors, not " + cpus);
        }
    }
}
