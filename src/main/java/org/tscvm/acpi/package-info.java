/**
 * ACPI tables as bytes: the RSDP, RSDT, XSDT, FADT, FACS, MADT and a DSDT with the smallest
 * AML an operating system needs (\_S5 for power-off), with their checksums. Pure: it knows
 * neither devices nor guest memory; the machine describes its platform in an
 * {@link org.tscvm.acpi.AcpiPlatform} and copies the image to guest RAM.
 */
package org.tscvm.acpi;
