rule Dos_Jump { strings: $a = { 41 42 43 44 [-] 45 46 47 48 } condition: $a }
