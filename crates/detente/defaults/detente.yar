// detente embedded test rule: the EICAR anti-malware test file.
rule Detente_Test_EICAR
{
    meta:
        description = "EICAR anti-malware test file"
    strings:
        $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
    condition:
        $eicar at 28 and filesize < 256
}
